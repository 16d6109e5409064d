"""The PythonForce backend: ``openmm.PythonForce`` calls the exported module in-process.

OpenMM serialises a PythonForce by pickling its callable (``XmlSerializer``,
``copy.deepcopy`` of the System or the force, and openmm-ml's interpolation, which
deep-copies the force into a CustomCVForce). :class:`RangeComputation` is therefore a
module-level class whose pickled state is plain data: the bytes of the saved model file
(read back with ``weights_only=True``, so no code is executed), the atomic numbers and a
few settings. After unpickling, the TorchScript module is rebuilt on first use.

Units: OpenMM hands positions and box in nm; the exported module takes nm and returns
kJ/mol and kJ/mol/nm, which go back to OpenMM unchanged.
"""
import hashlib
import logging
import os
import tempfile
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import openmm
import torch

logger = logging.getLogger("openmm_range.openmm")

_NM = openmm.unit.nanometer
# Exported modules already built in this process, keyed by (model hash, settings): copies
# of a force (deepcopy, interpolation) then skip the TorchScript compilation. Bounded.
_MODULE_CACHE: "OrderedDict[Tuple, torch.jit.ScriptModule]" = OrderedDict()
_MODULE_CACHE_SIZE = 8


def _cached_export(model_bytes: bytes, atomic_numbers: Sequence[int], periodic: bool, dtype: torch.dtype,
                   device: str, check_errors: bool, max_neighbors: Optional[int],
                   molecules: Optional[Sequence[int]] = None, charges: Optional[Sequence[int]] = None,
                   model=None, bonds: Optional[Sequence[Tuple[int, int]]] = None,
                   neighbor_search: str = "auto") -> torch.jit.ScriptModule:
    """The exported module (``return_forces=True``) for these settings, built once per process."""
    key = (hashlib.sha256(model_bytes).hexdigest(), tuple(atomic_numbers), periodic, str(dtype), device, check_errors,
           max_neighbors, None if molecules is None else tuple(molecules), None if charges is None else tuple(charges),
           None if bonds is None else tuple(map(tuple, bonds)), neighbor_search)
    module = _MODULE_CACHE.get(key)
    if module is None:
        from ..export import export

        if model is None:
            model = load_model_bytes(model_bytes)
        # The unchecked module is only ever captured in a CUDA graph: it needs static shapes.
        module = export(model, atomic_numbers, periodic=periodic, return_forces=True, dtype=dtype,
                        max_neighbors=max_neighbors, check_errors=check_errors,
                        static_shapes=None if check_errors else True, molecules=molecules,
                        charges=charges, bonds=bonds, neighbor_search=neighbor_search).to(device)
        _MODULE_CACHE[key] = module
        while len(_MODULE_CACHE) > _MODULE_CACHE_SIZE:
            _MODULE_CACHE.popitem(last=False)
    _MODULE_CACHE.move_to_end(key)
    return module


def load_model_bytes(model_bytes: bytes):
    """Rebuild a model from the bytes of a file written by ``save_model`` (weights only)."""
    from ..serialization import load_model

    fd, path = tempfile.mkstemp(suffix=".pt", prefix="openmm-range-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(model_bytes)
        try:
            return load_model(path)
        except ValueError as exc:  # name where the bytes came from, not the temporary file
            raise ValueError(str(exc).replace(repr(path), "the model bytes held by the RANGE PythonForce")) from None
    finally:
        os.unlink(path)


class RangeComputation:
    """The PythonForce callable: ``compute(state) -> (energy kJ/mol, forces (N, 3) kJ/mol/nm)``.

    Args:
        model_bytes: contents of the model file (``save_model`` format).
        atomic_numbers: (N,) elements of the ML atoms, in PythonForce particle order.
        periodic: pass the box to the module (minimum-image neighbours).
        dtype: compute precision, ``'float32'`` or ``'float64'``.
        device: torch device string, e.g. ``'cpu'`` or ``'cuda:0'``.
        cuda_graphs: on a CUDA device, capture the module in a CUDA graph after
            ``warmup_steps`` eager calls and replay it; falls back to eager if capture
            fails or disagrees with the eager result.
        warmup_steps: eager calls before capture.
        max_neighbors: neighbour slots per atom (None: the exporter's default).
        molecules: (N,) molecule id of each ML atom (None: one molecule); see ``export``.
        charges: total charge (e) of each molecule, by id (None: neutral).
        model: the already-loaded model (optional, saves re-reading ``model_bytes``).
        bonds: bonded pairs of ML atoms (positions in ``atomic_numbers``), along which periodic
            molecules are made whole; see ``export``.
        neighbor_search: the exporter's ``neighbor_search``.
    """

    def __init__(self, model_bytes: bytes, atomic_numbers: Sequence[int], periodic: bool, dtype: str, device: str,
                 cuda_graphs: bool = True, warmup_steps: int = 10, max_neighbors: Optional[int] = None,
                 molecules: Optional[Sequence[int]] = None, charges: Optional[Sequence[int]] = None, model=None,
                 bonds: Optional[Sequence[Tuple[int, int]]] = None, neighbor_search: str = "auto"):
        if dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        self.model_bytes = bytes(model_bytes)
        self.atomic_numbers = [int(z) for z in atomic_numbers]
        self.periodic = bool(periodic)
        self.dtype = dtype
        self.device = str(device)
        self.cuda_graphs = bool(cuda_graphs)
        self.warmup_steps = int(warmup_steps)
        self.max_neighbors = None if max_neighbors is None else int(max_neighbors)
        self.molecules = None if molecules is None else [int(m) for m in molecules]
        self.charges = None if charges is None else [int(q) for q in charges]
        self.bonds = None if bonds is None else [(int(a), int(b)) for a, b in bonds]
        self.neighbor_search = str(neighbor_search)
        self._reset()
        if model is not None:
            self._module = self._export(True, model=model)

    def _export(self, check_errors: bool, model=None) -> torch.jit.ScriptModule:
        return _cached_export(self.model_bytes, self.atomic_numbers, self.periodic, self._torch_dtype, self.device,
                              check_errors, self.max_neighbors, self.molecules, self.charges, model=model,
                              bonds=self.bonds, neighbor_search=self.neighbor_search)

    def _reset(self) -> None:
        self._module: Optional[torch.jit.ScriptModule] = None
        self._graphed = None
        self._graph_state = "off"
        if self.cuda_graphs and torch.device(self.device).type == "cuda":
            self._graph_state = "warmup"
        self._calls = 0

    @property
    def _torch_dtype(self) -> torch.dtype:
        return getattr(torch, self.dtype)

    def __getstate__(self) -> Dict[str, Any]:
        return {key: getattr(self, key) for key in
                ("model_bytes", "atomic_numbers", "periodic", "dtype", "device", "cuda_graphs", "warmup_steps",
                 "max_neighbors", "molecules", "charges", "bonds", "neighbor_search")}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update({"max_neighbors": None, "molecules": None, "charges": None, "bonds": None,
                              "neighbor_search": "auto", **state})
        if torch.device(self.device).type == "cuda" and not torch.cuda.is_available():
            # a System saved on a GPU machine and loaded on one without: run where it now is
            logger.warning("RANGE force saved for device %s: no CUDA device here, running on the CPU", self.device)
            self.device = "cpu"
        self._reset()

    def module(self) -> torch.jit.ScriptModule:
        """The checked exported module (built on first use)."""
        if self._module is None:
            self._module = self._export(True)
        return self._module

    def __call__(self, state: openmm.State) -> Tuple[float, np.ndarray]:
        positions = torch.from_numpy(np.ascontiguousarray(state.getPositions(asNumpy=True).value_in_unit(_NM)))
        positions = positions.to(device=self.device, dtype=self._torch_dtype)
        box = None
        if self.periodic:
            vectors = np.asarray(state.getPeriodicBoxVectors(asNumpy=True).value_in_unit(_NM))
            box = torch.from_numpy(np.ascontiguousarray(vectors)).to(device=self.device, dtype=self._torch_dtype)
        energy, forces = self.evaluate(positions, box)
        return float(energy), forces.detach().to("cpu", torch.float64).numpy()

    def evaluate(self, positions: torch.Tensor, box: Optional[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        """Energy (kJ/mol) and forces (kJ/mol/nm) for positions (N, 3) nm on this device."""
        self._calls += 1
        if self._graph_state == "warmup" and self._calls > self.warmup_steps:
            self._capture(positions, box)
        if self._graph_state == "on":
            energy, forces = self._graphed(positions, box)
            if bool(torch.isfinite(energy)):
                return energy, forces
            # Unchecked graph gave NaN (bad positions or neighbour overflow): let the checked
            # module report what is wrong.
        return self.module()(positions, box)

    def _capture(self, positions: torch.Tensor, box: Optional[torch.Tensor]) -> None:
        from .cuda_graph import GraphedModule

        try:
            unchecked = self._export(False)
            graphed = GraphedModule(unchecked, positions, box)
            energy, forces = graphed(positions, box)
            ref_energy, ref_forces = self.module()(positions, box)
            scale = float(ref_forces.abs().max()) + 1.0
            if not (abs(float(energy) - float(ref_energy)) <= 1e-4 * (abs(float(ref_energy)) + 1.0)
                    and float((forces - ref_forces).abs().max()) <= 1e-4 * scale):
                raise RuntimeError("the replayed graph disagrees with eager execution")
        except Exception as exc:  # any capture problem: keep running eagerly
            logger.warning("RANGE PythonForce: CUDA-graph capture failed (%s); running eagerly", exc)
            self._graph_state = "off"
            return
        self._graphed = graphed
        self._graph_state = "on"
        logger.info("RANGE PythonForce: replaying a CUDA graph from now on")


def build_python_force(computation: RangeComputation, indices: List[int], periodic: bool,
                       force_group: int) -> openmm.PythonForce:
    """An ``openmm.PythonForce`` applying ``computation`` to the particles ``indices`` (in that order)."""
    force = openmm.PythonForce(computation)
    force.setParticles([int(i) for i in indices])
    force.setUsesPeriodicBoundaryConditions(bool(periodic))
    force.setForceGroup(int(force_group))
    force.setName("RANGE PythonForce")
    return force
