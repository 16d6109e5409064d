"""Entry-point target of the openmm-ml plugin: ``MLPotential('range-schnet')`` and friends.

Registered through the ``openmmml.potentials`` entry point for every name in
``openmm_range.registry.POTENTIAL_NAMES`` (``range-schnet``, ``range-painn``, ``schnet``,
``painn`` and ``schnet-long``, a SchNet with a long cutoff). Usage::

    from openmmml import MLPotential
    potential = MLPotential('range-schnet')                        # shipped model
    potential = MLPotential('range-schnet', modelPath='model.pt')  # your own file
    system = potential.createSystem(topology)                      # whole molecule
    system = potential.createMixedSystem(topology, mm_system, ml_atoms,
                                         removeConstraints=False)  # ML/MM, X-H bonds held

The classes live in :mod:`openmm_range.openmm._potential_impl` and are resolved lazily
(PEP 562) so that either import order works: ``import openmmml`` loads every plugin's
entry point while ``openmmml.mlpotential`` is still initialising, and importing this
module first must not import openmm-ml before the attribute can be served.
"""

_EXPORTED = ("RangePotentialImplFactory", "RangePotentialImpl")
__all__ = list(_EXPORTED)


def __getattr__(name: str):
    if name in _EXPORTED:
        # openmm-ml first: its import registers plugins (re-entering this function), after
        # which the implementation module can subclass openmm-ml's base classes.
        import openmmml.mlpotential  # noqa: F401

        from . import _potential_impl

        return getattr(_potential_impl, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
