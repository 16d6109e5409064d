"""Extended XYZ files and ASE databases (``.db``/``.json``), read through ASE.

Extended XYZ (ASE's ``extxyz`` format): per frame, the comment line holds ``key=value``
pairs (``info``) and ``Properties=species:S:1:pos:R:3:forces:R:3`` names per-atom columns
(``arrays``). ASE moves the standard names ``energy`` and ``forces`` into a
``SinglePointCalculator``; other names (``REF_energy``, ``REF_forces``, ``dft_energy``...)
stay in ``info``/``arrays``. By ASE convention energies are eV and lengths Å; pass
``energy_unit``/``length_unit`` if a file uses something else.

ASE database: each row's stored calculator results (``row.energy``, ``row.forces``) or,
with ``energy_key``/``forces_key``, a key-value pair / a ``data`` array.

Per-structure charge comes from ``total_charge`` or ``charge`` in ``info`` / key-value pairs
(an ASE database reserves ``charge`` for the sum of initial charges); the molecule id
from ``info`` keys ``mol_id``, ``molecule``, ``name`` or ``smiles``, else from the atom
sequence (identical ordered atomic numbers = same molecule). Mixed atom counts are allowed.
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from openmm_range.data.frames import Frames
from openmm_range.units import energy_factor, length_factor

ENERGY_KEYS = ("energy", "REF_energy", "Energy", "E", "total_energy", "dft_energy")
FORCES_KEYS = ("forces", "REF_forces", "force", "F", "dft_forces")
MOLECULE_KEYS = ("mol_id", "molecule", "name", "smiles")
CHARGE_KEYS = ("total_charge", "charge")


def _calc_result(atoms, name: str):
    calc = atoms.calc
    if calc is not None and name in getattr(calc, "results", {}):
        return calc.results[name]
    return None


def _lookup(atoms, where: str, what: str, key: Optional[str], defaults: Sequence[str], store: Dict, store_name: str,
            extra: Dict):
    """The first of ``key`` (or else ``defaults``) found in ``store`` (atoms.info or atoms.arrays), in
    ``extra`` or, for the standard name ``what``, in the calculator results; a clear error if none is."""
    keys = [key] if key else list(defaults)
    for k in keys:
        if k in store:
            value = store[k]
        elif k in extra:
            value = extra[k]
        else:
            value = _calc_result(atoms, what) if k == what else None
        if value is not None:  # (a key stored as None counts as absent: the next key is tried)
            return value
    raise ValueError(f"{where}: no {what} (looked for {keys} in {store_name} and calculator results; {store_name} has "
                     f"{sorted(store)}); pass {what}_key=")


def _energy_forces(atoms, where: str, energy_key: Optional[str], forces_key: Optional[str], extra: Dict) -> Tuple[float, np.ndarray]:
    """Energy and forces of one ASE Atoms (``extra``: additional per-row dictionaries, e.g. ASE-db data)."""
    energy = _lookup(atoms, where, "energy", energy_key, ENERGY_KEYS, atoms.info, "info", extra)
    forces = _lookup(atoms, where, "forces", forces_key, FORCES_KEYS, atoms.arrays, "arrays", extra)
    energy = np.asarray(energy, dtype=np.float64).reshape(-1)
    if energy.shape != (1,):
        raise ValueError(f"{where}: energy must be one number, got shape {energy.shape}")
    forces = np.asarray(forces, dtype=np.float64)
    if forces.shape != (len(atoms), 3):
        raise ValueError(f"{where}: forces have shape {forces.shape}, expected ({len(atoms)}, 3)")
    if not np.isfinite(energy[0]):
        raise ValueError(f"{where}: key 'energy' is NaN or inf; only finite values are accepted")
    if not np.all(np.isfinite(forces)):
        raise ValueError(f"{where}: key 'forces' contains NaN or inf; only finite values are accepted")
    return float(energy[0]), forces


def _total_charge(info: Dict, where: str) -> int:
    """The structure's total charge (e) from its info keys (CHARGE_KEYS; 0 if none), a whole number."""
    key = next((k for k in CHARGE_KEYS if k in info), None)
    if key is None:
        return 0
    try:
        value = float(info[key])
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value) or value != round(value):
        raise ValueError(f"{where}: key {key!r} is {info[key]!r}; the total charge must be a whole number (e)")
    return int(value)


def _frames_from_atoms(
    items: Sequence[Tuple[object, str, Dict]],
    source: str,
    fmt: str,
    energy_key: Optional[str],
    forces_key: Optional[str],
    energy_unit: str,
    length_unit: str,
) -> Frames:
    ef, lf = energy_factor(energy_unit), length_factor(length_unit)
    z, pos, forces, energy, n_atoms, charge, mol_id = [], [], [], [], [], [], []
    molecules: List[str] = []
    index: Dict[str, int] = {}
    for atoms, where, extra in items:
        if not np.all(np.isfinite(atoms.positions)):
            raise ValueError(f"{where}: positions contain NaN or inf; only finite values are accepted")
        if np.any(atoms.pbc):
            raise ValueError(f"{where}: periodic (pbc={atoms.pbc.tolist()}); training data here are molecules "
                             f"without a cell (their labels would include periodic images the model never sees)")
        e, f = _energy_forces(atoms, where, energy_key, forces_key, extra)
        info = {**extra, **atoms.info}
        mol_name = next((str(info[k]) for k in MOLECULE_KEYS if k in info), None)
        if mol_name is None:
            mol_name = "-".join(str(x) for x in atoms.numbers)
        if mol_name not in index:
            index[mol_name] = len(molecules)
            molecules.append(mol_name)
        z.append(atoms.numbers)
        pos.append(atoms.positions)
        forces.append(f)
        energy.append(e)
        n_atoms.append(len(atoms))
        charge.append(_total_charge(info, where))
        mol_id.append(index[mol_name])
    if not energy:
        raise ValueError(f"{source}: contains no structures")
    return Frames.from_arrays(
        z=np.concatenate(z),
        pos=np.concatenate(pos) * lf,
        energy=np.array(energy) * ef,
        forces=np.concatenate(forces) * (ef / lf),
        n_atoms=n_atoms,
        mol_id=mol_id,
        charge=charge,
        molecules=molecules,
        source=source,
        metadata={"format": fmt, "file_units": {"energy": energy_unit, "length": length_unit}},
    )


def read_extxyz(
    path: str,
    energy_key: Optional[str] = None,
    forces_key: Optional[str] = None,
    energy_unit: str = "eV",
    length_unit: str = "angstrom",
) -> Frames:
    """Read every frame of an extended XYZ file (energies eV and forces eV/Å unless told otherwise)."""
    import ase.io

    try:
        images = ase.io.read(path, index=":", format="extxyz")
    except Exception as exc:  # ASE raises many types for malformed text
        raise ValueError(f"{path}: not a readable extended XYZ file ({type(exc).__name__}: {exc})") from None
    items = [(atoms, f"{path}: frame {i}", {}) for i, atoms in enumerate(images)]
    return _frames_from_atoms(items, path, "extxyz", energy_key, forces_key, energy_unit, length_unit)


def read_ase_db(
    path: str,
    energy_key: Optional[str] = None,
    forces_key: Optional[str] = None,
    energy_unit: str = "eV",
    length_unit: str = "angstrom",
    selection: Optional[str] = None,
) -> Frames:
    """Read the rows of an ASE database (optionally an ASE ``selection`` string such as ``"natoms>20"``)."""
    import ase.db

    items = []
    try:
        with ase.db.connect(path) as db:
            rows = list(db.select(selection) if selection else db.select())
    except Exception as exc:  # ASE raises many types for a file that is no database, or a bad selection
        raise ValueError(f"{path}: not a readable ASE database, or selection {selection!r} not valid for it "
                         f"({type(exc).__name__}: {exc})") from None
    for row in rows:
        extra = dict(row.key_value_pairs)
        extra.update({k: v for k, v in (row.get("data") or {}).items()})
        items.append((row.toatoms(), f"{path}: row id {row.id}", extra))
    return _frames_from_atoms(items, path, "ase-db", energy_key, forces_key, energy_unit, length_unit)
