"""Molecules from SMILES with RDKit: ETKDG conformers, bond graph, charge; dimer placement.

All coordinates are in Å. RDKit is imported lazily so that reading datasets never needs it.
"""
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np


def _rdkit():
    try:
        from rdkit import Chem, RDLogger
        from rdkit.Chem import AllChem
    except ImportError as exc:  # pragma: no cover - rdkit is in requirements.txt
        raise ImportError("data generation needs RDKit: pip install rdkit") from exc
    RDLogger.DisableLog("rdApp.*")
    return Chem, AllChem


@dataclass
class Molecule:
    """A molecule ready for sampling: atoms, bond graph and ETKDG conformers.

    ``z`` (n,) atomic numbers; ``bonds`` (n, n) int32 bond-order matrix (1 for any bond);
    ``conformers`` (c, n, 3) Å; ``charge`` total formal charge, e; ``uhf`` unpaired electrons;
    ``formal_charges`` (n,) per-atom formal charges, e.
    """

    name: str
    smiles: str
    z: np.ndarray
    bonds: np.ndarray
    conformers: np.ndarray
    charge: int
    uhf: int
    formal_charges: np.ndarray = None

    @property
    def n_atoms(self) -> int:
        return int(self.z.shape[0])


def parse_smiles(smiles: str, name: str = ""):
    """RDKit molecule with explicit hydrogens; ValueError naming the molecule if the SMILES is invalid."""
    Chem, _ = _rdkit()
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError(f"molecule {name or smiles!r}: RDKit cannot parse SMILES {smiles!r}")
    return Chem.AddHs(mol)


def check_charge_and_spin(name: str, smiles: str, charge: Optional[int], uhf: int):
    """The RDKit molecule (explicit hydrogens) of ``smiles``, after checking that ``charge`` (if
    given) is the SMILES's formal charge and that ``uhf`` unpaired electrons fit its electron count
    (same parity: tblite refuses otherwise, or silently computes another spin state). ValueError
    naming the molecule."""
    Chem, _ = _rdkit()
    mol = parse_smiles(smiles, name)
    formal = int(Chem.GetFormalCharge(mol))
    if charge is not None and int(charge) != formal:
        raise ValueError(f"molecule {name!r}: charge {charge} given but the SMILES has formal charge {formal}")
    electrons = sum(atom.GetAtomicNum() for atom in mol.GetAtoms()) - formal
    if (electrons - uhf) % 2:
        radicals = sum(atom.GetNumRadicalElectrons() for atom in mol.GetAtoms())
        raise ValueError(f"molecule {name!r}: {electrons} electrons cannot have uhf {uhf} unpaired electron(s) "
                         f"(the parity differs; the SMILES has {radicals} radical electron(s): set uhf to match)")
    return mol


def radius_of_gyration(pos: np.ndarray) -> float:
    """Unweighted radius of gyration of (n, 3) positions, Å."""
    centred = pos - pos.mean(axis=0)
    return float(np.sqrt((centred**2).sum(axis=1).mean()))


def max_extent(pos: np.ndarray) -> float:
    """Largest interatomic distance of (n, 3) positions, Å."""
    diff = pos[:, None, :] - pos[None, :, :]
    return float(np.sqrt((diff**2).sum(-1)).max())


def build_molecule(
    name: str,
    smiles: str,
    n_conformers: int,
    seed: int,
    n_candidates: Optional[int] = None,
    select: str = "rg_stratified",
    charge: Optional[int] = None,
    uhf: int = 0,
) -> Molecule:
    """Embed ``n_candidates`` ETKDGv3 conformers (single thread, fixed seed: reproducible), MMFF-relax
    them lightly, and keep ``n_conformers``: spread evenly over the radius of gyration
    (``rg_stratified``, covers compact to extended) or the first ones (``first``).
    """
    Chem, AllChem = _rdkit()
    mol = check_charge_and_spin(name, smiles, charge, uhf)
    n_candidates = max(n_conformers, n_candidates or n_conformers)
    params = AllChem.ETKDGv3()
    params.randomSeed = int(seed) % (2**31 - 1)
    params.numThreads = 1
    params.pruneRmsThresh = 0.3
    ids = list(AllChem.EmbedMultipleConfs(mol, numConfs=n_candidates, params=params))
    if not ids:
        params.useRandomCoords = True
        ids = list(AllChem.EmbedMultipleConfs(mol, numConfs=n_candidates, params=params))
    if not ids:
        raise ValueError(f"molecule {name!r}: RDKit could not embed a 3D conformer for {smiles!r}")
    if AllChem.MMFFHasAllMoleculeParams(mol):
        AllChem.MMFFOptimizeMoleculeConfs(mol, numThreads=1, maxIters=200)
    confs = np.stack([mol.GetConformer(i).GetPositions() for i in ids]).astype(np.float64)
    if select == "rg_stratified" and len(confs) > n_conformers:
        rg = np.array([radius_of_gyration(c) for c in confs])
        order = np.argsort(rg, kind="stable")
        pick = np.unique(np.round(np.linspace(0, len(order) - 1, n_conformers)).astype(int))
        confs = confs[order[pick]]
    elif select not in ("rg_stratified", "first"):
        raise ValueError(f"conformer selection {select!r} unknown; accepted: 'rg_stratified', 'first'")
    confs = confs[:n_conformers]
    n = mol.GetNumAtoms()
    bonds = np.zeros((n, n), dtype=np.int32)
    for bond in mol.GetBonds():
        i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        bonds[i, j] = bonds[j, i] = 1
    z = np.array([a.GetAtomicNum() for a in mol.GetAtoms()], dtype=np.int64)
    formal_charges = np.array([a.GetFormalCharge() for a in mol.GetAtoms()], dtype=np.float64)
    return Molecule(
        name=name,
        smiles=smiles,
        z=z,
        bonds=bonds,
        conformers=confs,
        charge=int(Chem.GetFormalCharge(mol)),
        uhf=int(uhf),
        formal_charges=formal_charges,
    )


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """Uniformly random 3x3 rotation matrix (from a normalised Gaussian quaternion)."""
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    a, b, c, d = q
    return np.array(
        [
            [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
            [2 * (b * c + a * d), a * a - b * b + c * c - d * d, 2 * (c * d - a * b)],
            [2 * (b * d - a * c), 2 * (c * d + a * b), a * a - b * b - c * c + d * d],
        ]
    )


def min_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Smallest distance between any atom of (n, 3) ``a`` and any atom of (m, 3) ``b``, Å."""
    return float(np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)).min())


def place_dimer(
    pos_a: np.ndarray, pos_b: np.ndarray, gap: float, rng: np.random.Generator
) -> Tuple[np.ndarray, np.ndarray]:
    """Randomly orient A and B about their centroids, then put B along a random direction so that
    the closest A-B atom distance equals ``gap`` Å (found by bisection). Returns new (pos_a, pos_b)."""
    a = (pos_a - pos_a.mean(axis=0)) @ random_rotation(rng).T
    b0 = (pos_b - pos_b.mean(axis=0)) @ random_rotation(rng).T
    direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction)
    shift = shift_to_gap(a, b0, direction, gap, 0.0, gap + max_extent(a) + max_extent(b0) + 1.0)
    return a, b0 + shift * direction


def shift_to_gap(a: np.ndarray, b: np.ndarray, direction: np.ndarray, gap: float, lo: float, hi: float) -> float:
    """Shift s in [lo, hi] (bisection, 60 steps) with closest-atom distance of a and b + s * direction
    equal to ``gap`` (Å); the distance must grow with s on that interval. Returns the upper bracket."""
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if min_distance(a, b + mid * direction) < gap:
            lo = mid
        else:
            hi = mid
    return hi


def dimer_centre_distance(pos_a: np.ndarray, pos_b: np.ndarray) -> float:
    """Distance between the centroids of (n, 3) ``pos_a`` and (m, 3) ``pos_b``, Å."""
    return float(np.linalg.norm(pos_a.mean(axis=0) - pos_b.mean(axis=0)))


def stack_dimer(mol_a: Molecule, mol_b: Molecule) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(z, bonds, fragments) of the pair A+B (atoms of A first): block-diagonal bonds, fragment 0 = A, 1 = B."""
    n_a, n_b = mol_a.n_atoms, mol_b.n_atoms
    bonds = np.zeros((n_a + n_b, n_a + n_b), dtype=np.int32)
    bonds[:n_a, :n_a] = mol_a.bonds
    bonds[n_a:, n_a:] = mol_b.bonds
    fragments = np.concatenate([np.zeros(n_a, dtype=np.int32), np.ones(n_b, dtype=np.int32)])
    return np.concatenate([mol_a.z, mol_b.z]), bonds, fragments
