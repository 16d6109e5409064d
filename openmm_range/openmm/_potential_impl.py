"""openmm-ml plugin classes for RANGE models. Private: import them from ``potential``.

Arguments accepted by ``createSystem`` / ``createMixedSystem`` (passed on to ``addForces``):

* ``backend``: ``'auto'`` (default), ``'torchforce'`` or ``'python'`` (see ``backends``).
* ``precision``: ``'single'`` (float32) or ``'double'`` (float64); default: the dtype
  the model was saved in.
* ``device``: torch device for the PythonForce backend (default: CUDA if available).
* ``cudaGraphs``: replay CUDA graphs (TorchForce: openmm-torch's ``useCUDAGraphs`` on the
  CUDA platform; PythonForce: capture on a CUDA device). Default: on when CUDA is available.
* ``cudaGraphWarmupSteps``: eager evaluations before capture (default 10).
* ``maxNeighbors``: neighbour slots per atom in the exported module's static-shape
  neighbour list, used on CUDA devices (default:
  ``openmm_range.export.default_max_neighbors``, at most N-1). Too few slots raise a
  clear error (NaN energy when CUDA graphs are on). On CPUs the exact pair list is used.

torch is imported only inside ``addForces``.
"""
import logging
from typing import Iterable, Optional

import openmm
import openmm.app
from openmmml.mlpotential import MLPotentialImpl, MLPotentialImplFactory

logger = logging.getLogger("openmm_range.openmm")

#: createSystem arguments that openmm-ml's embeddings pass through to every potential.
_OPENMMML_PASSTHROUGH = {"mlLongRange", "linkAtomDistances", "removeConstraints", "interpolate", "embedding"}
_PRECISIONS = {"single": "float32", "double": "float64"}


class RangePotentialImplFactory(MLPotentialImplFactory):
    """Creates :class:`RangePotentialImpl` for the names registered by the entry point."""

    def createImpl(self, name: str, modelPath: Optional[str] = None, **args) -> "RangePotentialImpl":
        if args:
            raise ValueError(f"unknown argument(s) {sorted(args)} for MLPotential({name!r}); accepted: modelPath")
        return RangePotentialImpl(name, modelPath)


class RangePotentialImpl(MLPotentialImpl):
    """A RANGE / SchNet / PaiNN model file, turned into OpenMM forces on request.

    The model file is found and its metadata checked when the potential is created
    (``MLPotential(name, modelPath=None)``); the model is loaded on the first
    ``createSystem`` call.
    """

    def __init__(self, name: str, modelPath: Optional[str] = None):
        from ..registry import POTENTIAL_NAMES
        from .model_files import read_checked_metadata, resolve_model_file

        if name not in POTENTIAL_NAMES:
            raise ValueError(f"unknown RANGE potential {name!r}; accepted: {', '.join(POTENTIAL_NAMES)}")
        self.name = name
        self.path = resolve_model_file(name, modelPath)
        self.metadata = read_checked_metadata(name, self.path)
        self._model = None
        self._model_bytes: Optional[bytes] = None

    def getMLLongRange(self) -> bool:
        """False: the model does not interact with periodic images of the ML region.

        Its local part sees minimum-image neighbours within the cutoff and RANGE's master
        nodes attend over the atoms of the ML region only, never across periodic images;
        openmm-ml's mechanical embedding then leaves the ML region's interactions with its
        own periodic images to the MM force field.
        """
        return False

    def _load(self):
        if self._model is None:
            from .pythonforce_backend import load_model_bytes

            # One read: the PythonForce pickles exactly the bytes the model was built from.
            self._model_bytes = self.path.read_bytes()
            self._model = load_model_bytes(self._model_bytes)
        return self._model

    def addForces(self, topology: openmm.app.Topology, system: openmm.System, atoms: Optional[Iterable[int]],
                  forceGroup: int, backend: str = "auto", precision: Optional[str] = None,
                  device: Optional[str] = None, cudaGraphs: Optional[bool] = None, cudaGraphWarmupSteps: int = 10,
                  maxNeighbors: Optional[int] = None, **args) -> None:
        """Add one force computing the model's energy (kJ/mol) of ``atoms`` to ``system``.

        ``atoms`` (None: all) in the given order define the atom order of the exported
        module. See the module docstring for the keyword arguments.
        """
        import torch

        from ..export import export
        from .backends import check_backend, choose_backend
        from .guard import protect_system
        from .pythonforce_backend import RangeComputation, build_python_force
        from .topology import atomic_numbers, ml_atom_indices
        from .torchforce_backend import build_torch_force, torchforce_properties

        unknown = sorted(set(args) - _OPENMMML_PASSTHROUGH)
        if unknown:
            logger.warning("RANGE %s: ignoring unknown argument(s) %s; accepted: backend, precision, device, "
                           "cudaGraphs, cudaGraphWarmupSteps, maxNeighbors", self.name, unknown)
        check_backend(backend)
        indices = ml_atom_indices(topology, atoms)
        numbers = atomic_numbers(topology, indices, self.metadata["elements"], self.name)
        periodic = topology.getPeriodicBoxVectors() is not None or system.usesPeriodicBoundaryConditions()
        if periodic:
            self._check_box(topology, system)
        dtype = self._dtype(precision)
        cuda_graphs = torch.cuda.is_available() if cudaGraphs is None else bool(cudaGraphs)
        torchforce_properties(cuda_graphs, cudaGraphWarmupSteps)  # validates the warm-up count

        # A System that does not contain the ML particles is not the one that will be
        # simulated: the force is going to be copied (openmm-ml's interpolation does this).
        will_be_copied = system.getNumParticles() <= max(indices)
        chosen, reason = choose_backend(backend, will_be_copied)
        logger.info("RANGE %s on %d atoms: using the %s backend (%s)", self.name, len(indices), chosen, reason)

        model = self._load()
        if chosen == "torchforce":
            # With CUDA graphs: static shapes and no host synchronisation, so openmm-torch can
            # capture it. Otherwise the exporter picks per call (exact pairs on CPUs).
            module = export(model, numbers, periodic=periodic, return_forces=False, dtype=getattr(torch, dtype),
                            max_neighbors=maxNeighbors, check_errors=not cuda_graphs,
                            static_shapes=True if cuda_graphs else None)
            system.addForce(build_torch_force(module, indices, periodic, forceGroup, cuda_graphs,
                                              cudaGraphWarmupSteps))
            protect_system(system)
        else:
            if device is None:
                device = "cuda" if torch.cuda.is_available() else "cpu"
            computation = RangeComputation(self._model_bytes, numbers, periodic, dtype, str(device), cuda_graphs,
                                           cudaGraphWarmupSteps, max_neighbors=maxNeighbors, model=model)
            system.addForce(build_python_force(computation, indices, periodic, forceGroup))

    def _dtype(self, precision: Optional[str]) -> str:
        if precision is None:
            saved = str(self.metadata.get("dtype", "float32"))
            return saved if saved in ("float32", "float64") else "float32"
        if precision not in _PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; accepted: {', '.join(_PRECISIONS)} "
                             f"(or None for the model's own dtype)")
        return _PRECISIONS[precision]

    def _check_box(self, topology: openmm.app.Topology, system: openmm.System) -> None:
        """The cutoff must not exceed half the smallest box width (minimum image)."""
        import numpy as np

        vectors = topology.getPeriodicBoxVectors()
        if vectors is None:
            vectors = system.getDefaultPeriodicBoxVectors()
        box = np.array([list(vector.value_in_unit(openmm.unit.angstrom)) for vector in vectors])
        volume = abs(np.linalg.det(box))
        widths = volume / np.linalg.norm(np.cross(box[[1, 2, 0]], box[[2, 0, 1]]), axis=1)
        cutoff = float(self.metadata["cutoff"])
        if 2.0 * cutoff > widths.min():
            raise ValueError(f"the periodic box is too small for the {self.name} model: its cutoff {cutoff:g} Å "
                             f"must not exceed half the smallest box width ({widths.min() / 2:.3f} Å)")
