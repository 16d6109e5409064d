"""The OpenMM plugin: RANGE models as openmm-ml potentials.

``openmmml.MLPotential('range-schnet')`` (and ``'range-painn'``, ``'schnet'``, ``'painn'``)
finds :class:`~openmm_range.openmm.potential.RangePotentialImplFactory` through the
``openmmml.potentials`` entry point. Nothing heavy is imported here: openmm-ml imports the
factory for every installed plugin at start-up, so torch is imported only when a System
is built.

Modules:

* ``potential``: the entry-point target (classes in ``_potential_impl``).
* ``model_files``: finding shipped / user model files and checking their metadata.
* ``topology``: the ML atoms, their order and elements.
* ``backends``: choosing TorchForce or PythonForce (``'auto'``).
* ``torchforce_backend``, ``pythonforce_backend``, ``cuda_graph``: the two backends.
* ``guard``: refusing copies of Systems that would crash openmmtorch.
* ``simulation``, ``analysis``: the engines behind ``openmm-range simulate`` / ``analyze``.
"""
