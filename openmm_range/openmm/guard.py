"""Refusing copies of Systems that hold a TorchForce.

openmmtorch 1.5 (with torch 2.9) kills the process with a segmentation fault when a
TorchForce is deserialised from XML. ``copy.copy``, ``copy.deepcopy`` and ``pickle`` of an
``openmm.System`` all go through an XML round trip, so each of them would crash the
user's Python process. :func:`protect_system` turns the System returned by
``MLPotential.createSystem`` / ``createMixedSystem`` into a :class:`TorchForceSystem`,
which raises :class:`TorchForceCopyError` for those operations instead.

What this cannot intercept: ``XmlSerializer.serialize(system)`` succeeds (it is C++
code), but deserialising the resulting XML later crashes. Build with
``backend='python'`` when a System must be saved or copied (see docs/openmm.md).
"""
import openmm

_ADVICE = ("openmmtorch 1.5 crashes the process (segmentation fault) when a TorchForce is copied, pickled or "
           "deserialised from XML, so this is refused. Build the System with backend='python' (an "
           "openmm.PythonForce, which copies, pickles and serialises cleanly) if you need copies or XML files.")


class TorchForceCopyError(TypeError):
    """A System holding a TorchForce was copied, pickled or cloned."""


class TorchForceSystem(openmm.System):
    """An ``openmm.System`` that contains a RANGE TorchForce and refuses to be copied or pickled.

    It behaves exactly like ``openmm.System`` otherwise (same C++ object; only the Python
    class changes).
    """

    def __copy__(self):
        raise TorchForceCopyError(f"copy.copy of a System with a TorchForce: {_ADVICE}")

    def __deepcopy__(self, memo):
        raise TorchForceCopyError(f"copy.deepcopy of a System with a TorchForce: {_ADVICE}")

    def __reduce_ex__(self, protocol):
        raise TorchForceCopyError(f"pickling a System with a TorchForce: {_ADVICE}")

    def __getstate__(self):
        raise TorchForceCopyError(f"pickling a System with a TorchForce: {_ADVICE}")


def protect_system(system: openmm.System) -> None:
    """Make ``system`` (in place) a :class:`TorchForceSystem`."""
    if not isinstance(system, TorchForceSystem):
        system.__class__ = TorchForceSystem
