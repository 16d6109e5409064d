"""openmm-ml plugin classes for RANGE models. Private: import them from ``potential``.

Arguments accepted by ``createSystem`` / ``createMixedSystem`` (passed on to ``addForces``):

* ``backend``: ``'auto'`` (default; ``openmm.PythonForce``), ``'python'`` (the same) or
  ``'torchforce'`` (opt-in, openmm-torch's TorchForce; see ``backends``).
* ``precision``: ``'single'`` (float32) or ``'double'`` (float64); default: the dtype
  the model was saved in.
* ``device``: torch device for the PythonForce backend (default: CUDA if available).
* ``cudaGraphs``: replay CUDA graphs (TorchForce: openmm-torch's ``useCUDAGraphs`` on the
  CUDA platform; PythonForce: capture on a CUDA device). Default: on when CUDA is available.
* ``cudaGraphWarmupSteps``: eager evaluations before capture (default 10).
* ``charge``: total charge (e) of the ML region (openmm-ml's argument; default 0). Only
  charges the model saw in training are accepted (``openmm-range info MODEL`` lists them).
* ``multiplicity``: spin multiplicity (openmm-ml's argument; default 1). The models have no
  spin input and take closed-shell molecules only: 1 is the only value accepted, and a
  molecule with an odd number of electrons (at its charge) is refused, whether or not
  ``multiplicity`` is given (a missing ion charge, usually).
* ``moleculeCharges``: the total charge of each molecule of the ML region (in order of
  their first ML atom), when ``charge`` alone is ambiguous (see ``topology.molecule_charges``).
* ``molecules``: ``None`` (default: the bonded components of the topology, fixed during
  MD; each gets its own master nodes and they interact through the long-range head),
  ``'single'`` (the whole ML region is one molecule), or one molecule id per ML atom.
* ``maxNeighbors``: neighbour slots per atom in the exported module's static-shape
  neighbour list, used on CUDA devices (default:
  ``openmm_range.export.default_max_neighbors``, at most N-1). Too few slots raise a
  clear error (NaN energy when CUDA graphs are on). On CPUs the exact pair list is used.

torch is imported only inside ``addForces``.
"""
import logging
from typing import Iterable, List, Optional

import openmm
import openmm.app
from openmmml.mlpotential import MLPotentialImpl, MLPotentialImplFactory

logger = logging.getLogger("openmm_range.openmm")

#: createMixedSystem arguments that openmm-ml's embeddings pass on to every potential's addForces
#: (its own parameters removeConstraints, interpolate and embedding never arrive here from
#: createMixedSystem, and it refuses mlLongRange for a potential whose getMLLongRange() is known;
#: given to createSystem, where they mean nothing, they are warned about like any unknown argument)
_OPENMMML_PASSTHROUGH = {"linkAtomDistances"}
_ACCEPTED_NAMES = ("backend", "precision", "device", "cudaGraphs", "cudaGraphWarmupSteps", "maxNeighbors", "charge",
                   "multiplicity", "moleculeCharges", "molecules")
_ACCEPTED = ", ".join(_ACCEPTED_NAMES)
_PRECISIONS = {"single": "float32", "double": "float64"}


def _refuse_misplaced(name: str, unknown: List[str]) -> None:
    """ValueError for a createSystem argument that would silently change the result if ignored:
    ``modelPath`` (it belongs to ``MLPotential``; here the shipped model would run instead) or a
    near-miss of an accepted name (``precison``)."""
    import difflib

    if "modelPath" in unknown:
        raise ValueError(f"modelPath is an argument of MLPotential, not of createSystem: "
                         f"MLPotential('{name}', modelPath=...).createSystem(topology, ...)")
    for arg in unknown:
        close = difflib.get_close_matches(arg, _ACCEPTED_NAMES, n=1, cutoff=0.8)
        if close:
            raise ValueError(f"unknown argument {arg!r} for the RANGE potential {name!r}: did you mean "
                             f"{close[0]!r}? Accepted: {_ACCEPTED}")


def _keep_molecules_whole(topology: openmm.app.Topology, system: openmm.System, indices: List[int],
                          force_group: int) -> None:
    """Add the ML region's bonds to ``system`` as a HarmonicBondForce of zero strength.

    OpenMM wraps positions into the periodic box (``getState(enforcePeriodicBox=True)``, DCD
    output) molecule by molecule, and it finds the molecules through the bonds that forces
    report. The model's force reports none, and openmm-ml removes the MM bonds inside the ML
    region, so without these every ML atom would be wrapped on its own and molecules would come
    out split across the box. The force adds no energy."""
    ml = set(indices)
    bonds = [(a.index, b.index) for a, b in topology.bonds() if a.index in ml and b.index in ml]
    if not bonds:
        return
    force = openmm.HarmonicBondForce()
    force.setName("RANGE ML-region bonds (zero strength: keep molecules whole in periodic output)")
    for i, j in bonds:
        force.addBond(i, j, 0.1, 0.0)
    force.setForceGroup(force_group)
    system.addForce(force)


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
                  maxNeighbors: Optional[int] = None, charge: int = 0, multiplicity: int = 1, moleculeCharges=None,
                  molecules=None, **args) -> None:
        """Add one force computing the model's energy (kJ/mol) of ``atoms`` to ``system``.

        ``atoms`` (None: all) in the given order define the atom order of the exported
        module. See the module docstring for the keyword arguments.
        """
        import torch

        from .backends import check_backend, choose_backend
        from .pythonforce_backend import RangeComputation, build_python_force
        from .topology import atomic_numbers, check_closed_shells, ml_atom_indices, region_bonds

        unknown = sorted(set(args) - _OPENMMML_PASSTHROUGH)
        _refuse_misplaced(self.name, unknown)
        if unknown:
            logger.warning("RANGE %s: ignoring unknown argument(s) %s; accepted: %s", self.name, unknown, _ACCEPTED)
        check_backend(backend)
        indices = ml_atom_indices(topology, atoms)
        numbers = atomic_numbers(topology, indices, self.metadata["elements"], self.name)
        if isinstance(multiplicity, bool) or multiplicity != 1:
            raise ValueError(f"multiplicity={multiplicity!r}: the RANGE {self.name} model has no spin input and takes "
                             f"closed-shell molecules only; accepted: 1")
        mol_ids, charges = self._molecules(topology, indices, numbers, charge, moleculeCharges, molecules)
        check_closed_shells(topology, indices, numbers, mol_ids, charges, self.name)
        periodic = topology.getPeriodicBoxVectors() is not None or system.usesPeriodicBoundaryConditions()
        search = self._check_box(topology, system) if periodic else "auto"
        dtype = self._dtype(precision)
        cuda_graphs = torch.cuda.is_available() if cudaGraphs is None else bool(cudaGraphs)
        if int(cudaGraphWarmupSteps) < 1:
            raise ValueError(f"cudaGraphWarmupSteps must be a positive integer, got {cudaGraphWarmupSteps!r}")

        # A System that does not contain the ML particles is not the one that will be
        # simulated: the force is going to be copied (openmm-ml's interpolation does this),
        # which a TorchForce does not survive.
        will_be_copied = system.getNumParticles() <= max(indices)
        chosen, reason = choose_backend(backend, will_be_copied)
        logger.info("RANGE %s on %d atoms: using the %s backend (%s)", self.name, len(indices), chosen, reason)

        model = self._load()
        if any(charges) and not model.reads_charge:
            logger.warning("RANGE %s: total charge is not an input of this model, so charge=%s changes nothing "
                           "(its energy is that of the same atoms at any charge); a RANGE model reads it",
                           self.name, charges if len(charges) > 1 else charges[0])
        bonds = region_bonds(topology, indices) if periodic else None  # molecules are made whole along them
        if chosen == "torchforce":
            system.addForce(self._torch_force(model, numbers, indices, periodic, dtype, forceGroup, cuda_graphs,
                                              cudaGraphWarmupSteps, maxNeighbors, mol_ids, charges, bonds, search))
        else:
            if device is None:
                device = "cuda" if torch.cuda.is_available() else "cpu"
            computation = RangeComputation(self._model_bytes, numbers, periodic, dtype, str(device), cuda_graphs,
                                           cudaGraphWarmupSteps, max_neighbors=maxNeighbors, molecules=mol_ids,
                                           charges=charges, model=model, bonds=bonds, neighbor_search=search)
            system.addForce(build_python_force(computation, indices, periodic, forceGroup))
        if periodic and not will_be_copied:
            _keep_molecules_whole(topology, system, indices, forceGroup)
        if chosen == "torchforce":
            from .guard import protect_system

            protect_system(system)

    @staticmethod
    def _torch_force(model, numbers, indices, periodic, dtype, force_group, cuda_graphs, warmup_steps,
                     max_neighbors, molecules, charges, bonds, neighbor_search):
        """The opt-in openmm-torch TorchForce (``backend='torchforce'``)."""
        import torch

        from ..export import export
        from .torchforce_backend import build_torch_force

        # With CUDA graphs: static shapes and no host synchronisation, so openmm-torch can
        # capture it. Otherwise the exporter picks per call (exact pairs on CPUs).
        module = export(model, numbers, periodic=periodic, return_forces=False, dtype=getattr(torch, dtype),
                        max_neighbors=max_neighbors, check_errors=not cuda_graphs,
                        static_shapes=True if cuda_graphs else None, molecules=molecules, charges=charges,
                        bonds=bonds, neighbor_search=neighbor_search)
        return build_torch_force(module, indices, periodic, force_group, cuda_graphs, warmup_steps)

    def _molecules(self, topology, indices, numbers, charge, per_molecule, molecules):
        """``(molecule id per ML atom, total charge per molecule)``, checked against the model."""
        from .topology import check_charge, ml_molecules, molecule_charges, user_molecules

        charge = check_charge(charge)
        hyper = self.metadata.get("hyperparameters", {})
        uses_molecules = str(self.metadata.get("name", self.name)).startswith("range-") \
            or hyper.get("long_range", "none") != "none"
        if molecules is None and not uses_molecules:  # a plain local model: molecules change nothing
            mol_ids = [0] * len(indices)
        elif molecules is None:
            mol_ids = ml_molecules(topology, indices)
        elif isinstance(molecules, str):
            if molecules != "single":
                raise ValueError(f"molecules must be None, 'single' or one molecule id per ML atom, got {molecules!r}")
            mol_ids = [0] * len(indices)
        else:
            mol_ids = user_molecules(topology, indices, molecules)
        from ..models.config import check_molecule_charges

        charges = molecule_charges(numbers, mol_ids, charge, per_molecule)
        check_molecule_charges(charges, tuple(self.metadata.get("charges") or [0]), f"the {self.name} model")
        logger.info("RANGE %s: %d molecule(s) in the ML region, charges %s", self.name, max(mol_ids) + 1, charges)
        return mol_ids, charges

    def _dtype(self, precision: Optional[str]) -> str:
        if precision is None:
            saved = str(self.metadata.get("dtype", "float32"))
            return saved if saved in ("float32", "float64") else "float32"
        if precision not in _PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; accepted: {', '.join(_PRECISIONS)} "
                             f"(or None for the model's own dtype)")
        return _PRECISIONS[precision]

    def _check_box(self, topology: openmm.app.Topology, system: openmm.System) -> str:
        """The cutoff must not exceed half the smallest box width (minimum image). Returns the
        exporter's neighbour search (:func:`~openmm_range.neighbors.neighbor_search_for_box`)."""
        import numpy as np
        import torch

        from ..neighbors import neighbor_search_for_box

        vectors = topology.getPeriodicBoxVectors()
        if vectors is None:
            vectors = system.getDefaultPeriodicBoxVectors()
        box = np.array([list(vector.value_in_unit(openmm.unit.angstrom)) for vector in vectors])
        volume = abs(np.linalg.det(box))
        widths = volume / np.linalg.norm(np.cross(box[[1, 2, 0]], box[[2, 0, 1]]), axis=1)
        cutoff = float(self.metadata["cutoff"])
        if 2.0 * cutoff > widths.min():
            source = ("the System's default box" if topology.getPeriodicBoxVectors() is None else
                      "the topology's box (a PDB's CRYST1 record: some tools write a 1 Å placeholder there); for "
                      "a molecule in vacuum, call topology.setPeriodicBoxVectors(None) first")
            raise ValueError(f"the periodic box is too small for the {self.name} model: its cutoff {cutoff:g} Å "
                             f"must not exceed half the smallest box width ({widths.min() / 2:.3f} Å). The box is "
                             f"{source}")
        return neighbor_search_for_box(torch.from_numpy(box), cutoff)
