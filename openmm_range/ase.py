"""An ASE calculator for RANGE / SchNet / PaiNN models: :class:`RangeCalculator`.

For users outside OpenMM (geometry optimisation, NEB, ASE molecular dynamics)::

    from openmm_range.ase import RangeCalculator
    atoms.calc = RangeCalculator("range-schnet")           # shipped model
    atoms.calc = RangeCalculator("range-schnet", modelPath="model.pt", precision="double")
    atoms.get_potential_energy(), atoms.get_forces()       # eV, eV/Å

ASE units: positions and cell in Å, energy in eV, forces in eV/Å. The calculator runs the
same exported TorchScript module as the OpenMM plugin's PythonForce backend (positions in
nm, energy in kJ/mol, converted here with the factors of ``openmm_range.units``), so both
give the same numbers. A module is exported once per tuple of atomic numbers (and
periodicity) and reused, so the calls of an optimisation do not rebuild it.

Periodic cells: ``atoms.pbc`` must be all False (the cell is ignored) or all True (the
minimum-image convention; the cutoff must not exceed half the smallest cell width).
Any cell is accepted: it is rotated into OpenMM's reduced triclinic form (a along x,
b in the xy plane) and the forces are rotated back. Partial periodicity is refused.

This module is ``openmm_range.ase``; ``import ase`` inside it is the ASE package
(absolute import).
"""
import os
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
try:
    from ase.calculators.calculator import Calculator, all_changes
except ImportError as exc:  # pragma: no cover - ase is in requirements.txt
    raise ImportError(f"openmm_range.ase needs the ASE package (pip install ase): {exc}") from None

from .elements import symbol
from .openmm.topology import check_charge, molecule_charges, molecule_ids, open_shell_message, open_shells
from .models.atomistic import AtomisticModel
from .units import ANGSTROM_PER_NM, KJ_PER_MOL_PER_EV

_PRECISIONS = {"single": torch.float32, "double": torch.float64}
#: keyword arguments passed on to ``ase.calculators.calculator.Calculator``
_ASE_KWARGS = ("label", "atoms", "directory")


#: alkali and alkaline-earth metals (Li-Fr, Be-Ra): ions in the systems a force field meets
_IONIC = (3, 11, 19, 37, 55, 87, 4, 12, 20, 38, 56, 88)


def perceive_bonds(numbers: Sequence[int], positions: np.ndarray, cell: Optional[np.ndarray] = None) -> np.ndarray:
    """(N, N) bool: covalent bonds, a bond being a distance below 1.2x the sum of the covalent
    radii (ASE's covalent radii); minimum-image distances in a periodic ``cell`` (3, 3) Å. Alkali
    and alkaline-earth atoms bond to nothing: their contacts are ionic (Na+ to a water oxygen at
    2.4 Å would otherwise join the water), as OpenMM's topology has them."""
    from ase.data import covalent_radii

    numbers = np.asarray(numbers)
    radii = covalent_radii[numbers]
    diff = positions[:, None] - positions[None]
    if cell is not None:
        frac = diff @ np.linalg.inv(cell)
        diff = (frac - np.round(frac)) @ cell
    dist = np.linalg.norm(diff, axis=-1)
    bonded = dist < 1.2 * (radii[:, None] + radii[None])
    np.fill_diagonal(bonded, False)
    ionic = np.isin(numbers, _IONIC)
    bonded[ionic] = False
    bonded[:, ionic] = False
    return bonded


def perceive_molecules(numbers: Sequence[int], positions: np.ndarray, cell: Optional[np.ndarray] = None) -> List[int]:
    """Molecule id (0..G-1, by first atom) of each atom: connected components of
    :func:`perceive_bonds`."""
    bonded = perceive_bonds(numbers, positions, cell)
    ids = [-1] * len(numbers)
    count = 0
    for start in range(len(numbers)):
        if ids[start] >= 0:
            continue
        stack, ids[start] = [start], count
        while stack:
            i = stack.pop()
            for j in np.flatnonzero(bonded[i]):
                if ids[j] < 0:
                    ids[j] = count
                    stack.append(int(j))
        count += 1
    return ids


def reduced_frame(cell: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Cell (3, 3) Å, rows = vectors, in OpenMM's reduced triclinic form, and the rotation used.

    Returns ``(box, rotation)``: ``box`` is lower triangular with positive diagonal and
    ``|b_x| <= a_x/2``, ``|c_x| <= a_x/2``, ``|c_y| <= b_y/2`` (same lattice as ``cell`` in the
    rotated frame); ``rotation`` (3, 3) is orthogonal, positions in that frame are
    ``positions @ rotation.T`` and forces go back as ``forces_rotated @ rotation``.
    """
    q, r = np.linalg.qr(np.asarray(cell, dtype=np.float64).T)  # cell = r.T @ q.T
    signs = np.where(np.diag(r) < 0, -1.0, 1.0)
    box = r.T * signs  # scale columns ...
    rotation = q.T * signs[:, None]  # ... and the matching rows: box @ rotation == cell
    a, b, c = np.tril(box)
    c = c - b * np.round(c[1] / b[1])
    c = c - a * np.round(c[0] / a[0])
    b = b - a * np.round(b[0] / a[0])
    return np.stack([a, b, c]), rotation


class RangeCalculator(Calculator):
    """ASE calculator: energy (eV) and forces (eV/Å) of a RANGE / SchNet / PaiNN model.

    Args:
        model: a potential name of the OpenMM plugin (``openmm_range.registry.POTENTIAL_NAMES``,
            default ``'range-schnet'``), or a model object from ``openmm_range.create_model`` /
            ``openmm_range.load_model``.
        modelPath: a model file written by ``openmm_range.save_model`` or by training, holding
            architecture ``model``; None: the shipped model of that name. Read with
            ``torch.load(weights_only=True)`` (no code from the file runs).
        device: torch device, e.g. ``'cpu'`` (default) or ``'cuda'``.
        precision: ``'single'`` (float32), ``'double'`` (float64) or None (the model's dtype).
        charge: total charge (e); only charges the model saw in training are accepted.
        moleculeCharges: total charge of each molecule, when ``charge`` alone is ambiguous
            (the rules of the OpenMM plugin: ``openmm_range.openmm.topology.molecule_charges``).
        molecules: ``'auto'`` (default: covalent-bond components of the first structure
            calculated, then kept fixed, like an OpenMM topology: no master node switches on or
            off along an optimisation), ``'single'`` (one molecule), or one id per atom.
        **kwargs: ``label``, ``atoms``, ``directory`` of ASE's ``Calculator``.
    """

    implemented_properties = ["energy", "free_energy", "forces"]

    def __init__(self, model: Union[str, AtomisticModel] = "range-schnet",
                 modelPath: Optional[Union[str, os.PathLike]] = None, device: str = "cpu",
                 precision: Optional[str] = None, charge: int = 0, moleculeCharges: Optional[Sequence[int]] = None,
                 molecules: Union[str, Sequence[int]] = "auto", **kwargs: Any):
        unknown = sorted(set(kwargs) - set(_ASE_KWARGS))
        if unknown:
            raise ValueError(f"unknown argument(s) {unknown} for RangeCalculator; accepted: model, modelPath, device, "
                             f"precision, charge, moleculeCharges, molecules, {', '.join(_ASE_KWARGS)}")
        self.model, self.metadata, self.model_name = _load(model, modelPath)
        self.charge = check_charge(charge)
        self.molecule_charges = None if moleculeCharges is None else list(moleculeCharges)
        if isinstance(molecules, str) and molecules not in ("auto", "single"):
            raise ValueError(f"molecules must be 'auto', 'single' or one molecule id per atom, got {molecules!r}")
        self.molecules = molecules
        if precision is not None and precision not in _PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; accepted: {', '.join(_PRECISIONS)} "
                             f"(or None for the model's own dtype)")
        self.dtype = self.model.master_init.dtype if precision is None else _PRECISIONS[precision]
        self.device = torch.device(device)
        self.cutoff = float(self.metadata["cutoff"])
        self.elements = [int(z) for z in self.metadata["elements"]]
        self._modules: Dict[Tuple[Tuple[int, ...], bool], torch.jit.ScriptModule] = {}
        super().__init__(**kwargs)

    # -- helpers -------------------------------------------------------------------------
    def _check_elements(self, numbers: Sequence[int]) -> None:
        unsupported = sorted(set(numbers) - set(self.elements))
        if unsupported:
            where = {z: [i for i, n in enumerate(numbers) if n == z] for z in unsupported}
            listed = "; ".join(f"{symbol(z)} (atoms {', '.join(map(str, where[z][:5]))}"
                               f"{', ...' if len(where[z]) > 5 else ''})" for z in unsupported)
            raise ValueError(f"the {self.model_name} model does not support element(s) {listed}; supported "
                             f"elements: {', '.join(symbol(z) for z in self.elements)}")

    def _module(self, numbers: Tuple[int, ...], periodic: bool, positions: np.ndarray,
                cell: Optional[np.ndarray]) -> torch.jit.ScriptModule:
        """The exported module (energy kJ/mol, forces kJ/mol/nm) for these atoms, built once
        (molecules perceived from ``positions`` then, and kept)."""
        key = (numbers, periodic)
        if key not in self._modules:
            from .export import export
            from .neighbors import neighbor_search_for_box

            self._check_elements(numbers)
            if isinstance(self.molecules, str):
                mol = perceive_molecules(numbers, positions, cell) if self.molecules == "auto" else [0] * len(numbers)
            else:
                mol = molecule_ids(self.molecules)
                if len(mol) != len(numbers):
                    raise ValueError(f"molecules gives {len(mol)} ids for {len(numbers)} atoms")
            charges = molecule_charges(numbers, mol, self.charge, self.molecule_charges)
            if any(charges) and not self.model.reads_charge:
                warnings.warn(f"the {self.model_name} model does not read total charge: charge "
                              f"{charges if len(charges) > 1 else charges[0]} changes nothing (its energy is that "
                              f"of the same atoms at any charge); a RANGE model reads it", stacklevel=3)
            for m, count in open_shells(numbers, mol, charges):
                where = f"molecule {m} (from atom {mol.index(m)})" if len(charges) > 1 else "the structure"
                raise ValueError(open_shell_message(where, count, charges[m], self.model_name, "moleculeCharges"))
            # periodic: molecules are made whole along the bonds seen in this first structure
            bonds = [(int(i), int(j)) for i, j in zip(*np.nonzero(np.triu(perceive_bonds(numbers, positions, cell))))] \
                if periodic else None
            # the cell list needs a cell several cutoffs wide: all pairs in a narrower one (as the plugin)
            search = neighbor_search_for_box(torch.from_numpy(cell), self.cutoff) if periodic else "auto"
            self._modules[key] = export(self.model, list(numbers), periodic=periodic, return_forces=True,
                                        dtype=self.dtype, molecules=mol, charges=charges, bonds=bonds,
                                        neighbor_search=search).to(self.device)
        return self._modules[key]

    def _periodic(self, atoms) -> bool:
        pbc = [bool(p) for p in atoms.pbc]
        if all(pbc):
            return True
        if any(pbc):
            raise ValueError(f"atoms.pbc is {pbc}: RangeCalculator needs all three directions periodic "
                             f"(pbc=True, with a cell) or none (pbc=False); partial periodicity is not supported")
        return False

    def _box(self, atoms) -> Tuple[np.ndarray, np.ndarray]:
        """Reduced box (3, 3) Å and rotation; ValueError for a degenerate or too small cell."""
        from .neighbors import check_box

        cell = np.asarray(atoms.cell[:], dtype=np.float64)
        if not np.isfinite(cell).all() or abs(np.linalg.det(cell)) < 1e-9:
            raise ValueError(f"atoms.pbc is True but the cell {cell.tolist()} (Å) is degenerate (zero volume); "
                             f"set a cell with atoms.set_cell(...) or use pbc=False")
        box, rotation = reduced_frame(cell)
        try:
            check_box(torch.from_numpy(box), self.cutoff)
        except ValueError as exc:
            raise ValueError(f"the periodic cell is too small for the {self.model_name} model: {exc}") from None
        return box, rotation

    # -- ASE interface -------------------------------------------------------------------
    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes) -> None:
        """Fill ``self.results``: ``energy`` and ``free_energy`` (eV), ``forces`` (N, 3) eV/Å."""
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        numbers = tuple(int(z) for z in atoms.numbers)
        periodic = self._periodic(atoms)
        positions = np.asarray(atoms.positions, dtype=np.float64)  # Å
        if not np.isfinite(positions).all():
            raise ValueError("atoms.positions contain NaN or inf")
        box, rotation = self._box(atoms) if periodic else (None, None)  # a bad cell is named before anything else
        module = self._module(numbers, periodic, positions,
                              np.asarray(atoms.cell[:], dtype=np.float64) if periodic else None)
        if periodic:
            pos_nm = torch.from_numpy(positions @ rotation.T / ANGSTROM_PER_NM).to(self.device)
            energy, forces = module(pos_nm, torch.from_numpy(box / ANGSTROM_PER_NM).to(self.device))
        else:
            energy, forces = module(torch.from_numpy(positions / ANGSTROM_PER_NM).to(self.device))
        forces = forces.detach().cpu().double().numpy() / (KJ_PER_MOL_PER_EV * ANGSTROM_PER_NM)  # kJ/mol/nm -> eV/Å
        if rotation is not None:
            forces = forces @ rotation
        energy_ev = float(energy) / KJ_PER_MOL_PER_EV
        self.results = {"energy": energy_ev, "free_energy": energy_ev, "forces": forces}


def _load(model: Union[str, AtomisticModel], model_path) -> Tuple[AtomisticModel, Dict[str, Any], str]:
    """(model, metadata, name) from a potential name (+ optional file) or a model object."""
    if isinstance(model, AtomisticModel):
        if model_path is not None:
            raise ValueError("pass either a model object or modelPath, not both")
        from .serialization import model_metadata

        return model, model_metadata(model), model.config.name
    if not isinstance(model, str):
        raise ValueError(f"model must be a potential name or a model from openmm_range.create_model / load_model, "
                         f"got {type(model).__name__}")
    from .openmm.model_files import read_checked_metadata, resolve_model_file
    from .registry import POTENTIAL_NAMES
    from .serialization import load_model

    if model not in POTENTIAL_NAMES:
        raise ValueError(f"unknown RANGE potential {model!r}; accepted: {', '.join(POTENTIAL_NAMES)} "
                         f"(or a model object)")
    path = resolve_model_file(model, model_path)
    metadata = read_checked_metadata(model, path)
    return load_model(path), metadata, model
