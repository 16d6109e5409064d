"""MD17 / MD22 datasets in the sGDML ``.npz`` layout, and revised MD17.

sGDML layout (sgdml.org "Datasets"; also the default key mapping of nequip's
``NPZDataset``, which follows sGDML conventions):

* ``R`` (frames, atoms, 3) positions, Å (``r_unit``, when present, says so: "Ang")
* ``z`` (atoms,) atomic numbers, one molecule per file
* ``E`` (frames,) in MD22, (frames, 1) in some MD17 files: total energy, kcal/mol (``e_unit``)
* ``F`` (frames, atoms, 3) forces, kcal/mol/Å
* optional ``name``, ``theory``, ``md5``, ``lattice``, ``e_unit``, ``r_unit``

Revised MD17 (rMD17, Christensen & von Lilienfeld 2020) uses ``nuclear_charges``,
``coords``, ``energies``, ``forces`` in the same units.

Files are opened with ``allow_pickle=False`` and only the keys above are read.
"""
import zipfile

import numpy as np

from openmm_range.data.frames import Frames
from openmm_range.units import energy_factor, length_factor

SGDML_KEYS = {"z": "z", "pos": "R", "energy": "E", "forces": "F"}
RMD17_KEYS = {"z": "nuclear_charges", "pos": "coords", "energy": "energies", "forces": "forces"}
#: sGDML writes "Ang" for Å.
_LENGTH_ALIASES = {"ang": "angstrom", "angstrom": "angstrom", "a": "angstrom", "bohr": "bohr", "nm": "nm"}


def _scalar_str(npz, key: str, default: str) -> str:
    if key not in npz.files:
        return default
    try:
        return str(np.asarray(npz[key]).reshape(-1)[0])
    except ValueError:  # stored as a pickled object: ignore rather than unpickle
        return default


def is_sgdml(path: str) -> bool:
    """True if ``path`` is an .npz with the sGDML (or rMD17) keys."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = set(npz.files)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return False
    return set(SGDML_KEYS.values()) <= keys or set(RMD17_KEYS.values()) <= keys


def read_sgdml(path: str, energy_unit: str = None, length_unit: str = None) -> Frames:
    """Read an sGDML (MD17/MD22) or rMD17 ``.npz``; energies/forces converted from kcal/mol(/Å)
    (or the file's ``e_unit``/``r_unit``, or the arguments) to eV and eV/Å."""
    try:
        opened = np.load(path, allow_pickle=False)
    except (ValueError, EOFError, zipfile.BadZipFile):  # not an .npz (numpy's own message speaks of pickles)
        raise ValueError(f"{path}: not an sGDML .npz file (numpy cannot read it as an .npz archive)") from None
    if not hasattr(opened, "files"):  # a bare .npy array
        raise ValueError(f"{path}: a single .npy array, not an sGDML .npz archive of named arrays")
    with opened as npz:
        keys = SGDML_KEYS if SGDML_KEYS["pos"] in npz.files else RMD17_KEYS
        for key in keys.values():
            if key not in npz.files:
                raise ValueError(
                    f"{path}: missing key {key!r}; an sGDML file needs {sorted(SGDML_KEYS.values())} "
                    f"(rMD17: {sorted(RMD17_KEYS.values())}), found {sorted(npz.files)}"
                )
        try:
            z = np.asarray(npz[keys["z"]])
            pos = np.asarray(npz[keys["pos"]], dtype=np.float64)
            energy = np.asarray(npz[keys["energy"]], dtype=np.float64)
            forces = np.asarray(npz[keys["forces"]], dtype=np.float64)
        except ValueError as exc:
            raise ValueError(f"{path}: an array is stored as pickled objects ({exc}); only numeric arrays are accepted")
        e_unit = energy_unit or _scalar_str(npz, "e_unit", "kcal/mol")
        r_unit = length_unit or _scalar_str(npz, "r_unit", "angstrom")
        name = _scalar_str(npz, "name", "")
        theory = _scalar_str(npz, "theory", "")
    if pos.ndim != 3 or pos.shape[2] != 3:
        raise ValueError(f"{path}: key {keys['pos']!r} must have shape (frames, atoms, 3), got {pos.shape}")
    n_frames, n_atoms = pos.shape[:2]
    if z.ndim == 2 and z.shape[0] == n_frames and np.all(z == z[:1]):
        z = z[0]
    if z.shape != (n_atoms,):
        raise ValueError(
            f"{path}: key {keys['z']!r} has shape {z.shape}, expected ({n_atoms},): one molecule with a fixed atom "
            "count per file (mixed atom counts are not allowed in this format)"
        )
    if energy.shape in ((n_frames, 1), (1, n_frames)):
        energy = energy.reshape(-1)
    if energy.shape != (n_frames,):
        raise ValueError(f"{path}: key {keys['energy']!r} has shape {energy.shape}, expected ({n_frames},) or ({n_frames}, 1)")
    if forces.shape != pos.shape:
        raise ValueError(f"{path}: key {keys['forces']!r} has shape {forces.shape}, expected {pos.shape}")
    lf = length_factor(_LENGTH_ALIASES.get(r_unit.strip().lower(), r_unit))
    ef = energy_factor(e_unit)
    for key, arr in ((keys["pos"], pos), (keys["energy"], energy), (keys["forces"], forces)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{path}: key {key!r} contains NaN or inf; only finite values are accepted")
    return Frames.from_arrays(
        z=np.tile(z, n_frames),  # from_arrays refuses atomic numbers that are not whole
        pos=(pos * lf).reshape(-1, 3),
        energy=energy * ef,
        forces=(forces * (ef / lf)).reshape(-1, 3),
        n_atoms=np.full(n_frames, n_atoms),
        molecules=[name or path],
        source=path,
        metadata={"format": "sgdml", "name": name, "theory": theory, "file_units": {"energy": e_unit, "length": r_unit}},
    )
