"""Dataset statistics and the content hash.

``compute_stats`` gives what training and model export need: the element set, the
smallest and largest structure (N_min/N_max), per-element reference energies fitted by
least squares (E_s ~ sum_i e_ref[z_i]), energy and force scales. ``content_hash`` is a
SHA-256 over the data in a fixed byte layout (little-endian int64/float64), so the same
structures give the same hash on any platform and whatever file format they came from.
"""
import hashlib
from typing import Dict

import numpy as np

from openmm_range.data.frames import Frames

HASH_VERSION = "openmm-range-content-v1"


def composition_matrix(frames: Frames, elements: np.ndarray) -> np.ndarray:
    """(S, len(elements)) float64: how many atoms of each element every structure has."""
    col = np.searchsorted(elements, frames.z)
    row = np.repeat(np.arange(len(frames)), frames.n_atoms)
    counts = np.zeros((len(frames), len(elements)), dtype=np.float64)
    np.add.at(counts, (row, col), 1.0)
    return counts


def fit_atom_ref_energies(frames: Frames) -> Dict[int, float]:
    """Per-element energies (eV) minimising sum_s (E_s - sum_i e[z_i])^2.

    Fitted on the neutral structures when they contain every element: an ion's energy is
    several eV away from any sum of atomic terms, and a few ions would otherwise shift the
    references of all neutral molecules (ions keep their offset for the network to learn).
    With a single composition (e.g. one molecule) the problem is underdetermined; the
    minimum-norm solution is returned, which still removes the mean energy exactly."""
    elements = np.unique(frames.z)
    counts = composition_matrix(frames, elements)
    use = frames.charge == 0
    if not use.any() or not (counts[use].sum(axis=0) > 0).all():
        use = np.ones(len(frames), dtype=bool)
    coef, *_ = np.linalg.lstsq(counts[use], frames.energy[use], rcond=None)
    return {int(z): float(c) for z, c in zip(elements, coef)}


def compute_stats(frames: Frames) -> Dict:
    """JSON-able statistics of ``frames`` (energies eV, forces eV/Å)."""
    elements = np.unique(frames.z)
    refs = fit_atom_ref_energies(frames)
    counts = composition_matrix(frames, elements)
    residual = frames.energy - counts @ np.array([refs[int(z)] for z in elements])
    force_norm = np.linalg.norm(frames.forces, axis=1)
    _, sizes, charges = frames.molecule_table()
    return {
        "n_structures": len(frames),
        "n_atoms_total": int(frames.n_atoms.sum()),
        "n_molecules": int(len(np.unique(frames.mol_id))),
        "elements": [int(z) for z in elements],
        "n_min": int(frames.n_atoms.min()),
        "n_max": int(frames.n_atoms.max()),
        "charges": sorted(int(q) for q in np.unique(frames.charge)),
        # the single molecules inside the structures (a dimer holds two): what RANGE's master nodes see
        "molecule_n_min": int(sizes.min()),
        "molecule_n_max": int(sizes.max()),
        "molecule_charges": sorted(int(q) for q in np.unique(charges)),
        "atom_ref_energies": refs,
        "energy_mean": float(frames.energy.mean()),
        "energy_std": float(frames.energy.std()),
        "energy_per_atom_mean": float((frames.energy / frames.n_atoms).mean()),
        "energy_residual_std": float(residual.std()),
        "energy_residual_per_atom_std": float((residual / frames.n_atoms).std()),
        "force_rms": float(np.sqrt(np.mean(frames.forces**2))),
        "force_mean_abs": float(np.mean(np.abs(frames.forces))),
        "force_max_norm": float(force_norm.max()),
        "units": {"energy": "eV", "forces": "eV/angstrom", "length": "angstrom"},
    }


def content_hash(frames: Frames) -> str:
    """Hex SHA-256 of the structures and labels in order (atoms, positions, energies, forces,
    charges, spins and the molecule grouping), independent of platform and storage dtype
    (values are hashed as float64 after rounding float32-stored data exactly)."""
    h = hashlib.sha256(HASH_VERSION.encode())
    # molecule ids are renumbered by first appearance so that the hash does not depend on
    # how a reader happened to number its molecules
    _, first, inverse = np.unique(frames.mol_id, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    canonical_mol = order[inverse]
    for arr, dtype in (
        (frames.n_atoms, "<i8"),
        (frames.z, "<i8"),
        (frames.charge, "<i8"),
        (frames.spin, "<i8"),
        (canonical_mol, "<i8"),
        (frames.pos, "<f8"),
        (frames.energy, "<f8"),
        (frames.forces, "<f8"),
    ):
        h.update(np.ascontiguousarray(arr, dtype=dtype).tobytes())
    return h.hexdigest()
