"""QM7-X and Aquamarine (AQM) HDF5 files: ``file[molecule_id][conformer_id][property]``.

QM7-X (Hoja et al., Sci. Data 8, 43 (2021); Zenodo record 4288677, files ``1000.hdf5`` ...
``8000.hdf5``). Per conformer group, as read by schnetpack's ``QM7X`` data module, whose
unit table gives eV and eV/Å:

* ``atNUM`` (n,) atomic numbers;  ``atXYZ`` (n, 3) positions, Å
* ``ePBE0+MBD`` (1,) total PBE0+MBD energy, eV  (default energy key)
* ``totFOR`` (n, 3) total PBE0+MBD forces, eV/Å  (default force key)
* also ``ePBE0``, ``eMBD``, ``eAT`` (atomisation energy), ``pbe0FOR``, ``vdwFOR``, ...;
  conformer ids ending in ``-opt`` are equilibrium structures.

Aquamarine / AQM (Medrano Sandonas et al., Sci. Data 11, 742 (2024),
doi:10.1038/s41597-024-03521-8; Zenodo record 10208010, ``AQM-gas.hdf5`` and
``AQM-sol.hdf5``) uses the same layout and key names (public readers use ``atNUM``,
``atXYZ``, ``totFOR``, ``ePBE0+MBD``, ``eAT``, ``eMBD``). Its units are not stated in the
sources found; eV and eV/Å are assumed as for QM7-X by the same group (override with
``energy_unit=``/``length_unit=``). If a file lacks ``ePBE0+MBD``, pass another
``energy_key`` (the error lists the keys present).

The paper trains on QM7-X structures with more than 20 atoms (``min_atoms=21``) and on
AQM gas-phase structures with at least 30 atoms (``min_atoms=30``).
"""
import glob
import os
from typing import List, Optional, Union

import numpy as np

from openmm_range.data.frames import Frames
from openmm_range.units import energy_factor, length_factor

DEFAULT_KEYS = {"z": "atNUM", "pos": "atXYZ", "energy": "ePBE0+MBD", "forces": "totFOR"}


def _h5py():
    try:
        import h5py
    except ImportError as exc:  # pragma: no cover - h5py is in requirements.txt
        raise ImportError("reading QM7-X/AQM needs h5py: pip install h5py") from exc
    return h5py


def _expand(paths: Union[str, List[str]]) -> List[str]:
    if isinstance(paths, str):
        if os.path.isdir(paths):
            found = sorted(glob.glob(os.path.join(paths, "*.hdf5")) + glob.glob(os.path.join(paths, "*.h5")))
            if not found:
                raise ValueError(f"{paths}: directory holds no .hdf5/.h5 files")
            return found
        return [paths]
    return list(paths)


def is_group_hdf5(path: str) -> bool:
    """True if ``path`` looks like the QM7-X/AQM layout (first conformer group holds atNUM and atXYZ)."""
    try:
        h5py = _h5py()
        with h5py.File(path, "r") as handle:
            for mol in handle.values():
                if isinstance(mol, h5py.Group):
                    for conf in mol.values():
                        return isinstance(conf, h5py.Group) and "atNUM" in conf and "atXYZ" in conf
                return False
    except (OSError, ImportError):
        return False
    return False


def read_qm7x(
    paths: Union[str, List[str]],
    energy_key: str = DEFAULT_KEYS["energy"],
    forces_key: str = DEFAULT_KEYS["forces"],
    energy_unit: str = "eV",
    length_unit: str = "angstrom",
    min_atoms: int = 0,
    max_atoms: Optional[int] = None,
    dataset: str = "QM7-X",
) -> Frames:
    """Read QM7-X/AQM-style HDF5 file(s) (a file, a list, or a directory of .hdf5).

    Molecule ids are the top-level group names (conformers of one molecule share an id,
    which ``split(by="molecule")`` uses). Structures outside [min_atoms, max_atoms] are skipped."""
    h5py = _h5py()
    ef, lf = energy_factor(energy_unit), length_factor(length_unit)
    z_all, pos_all, f_all, e_all, n_all, mol_all = [], [], [], [], [], []
    molecules: List[str] = []
    files = _expand(paths)
    for path in files:
        try:
            opened = h5py.File(path, "r")
        except OSError as exc:
            if not os.path.exists(path):
                raise
            raise ValueError(f"{path}: not an HDF5 file that h5py can read ({exc})") from None
        with opened as handle:
            for mol_key in handle.keys():
                mol = handle[mol_key]
                if not isinstance(mol, h5py.Group):
                    raise ValueError(f"{path}: top-level key {mol_key!r} is not a group; expected file[molecule][conformer]")
                mol_index = None
                for conf_key in mol.keys():
                    conf = mol[conf_key]
                    where = f"{path}:/{mol_key}/{conf_key}"
                    if not isinstance(conf, h5py.Group):
                        raise ValueError(f"{where}: is not a group; expected file[molecule][conformer][property]")
                    for key in (DEFAULT_KEYS["z"], DEFAULT_KEYS["pos"], energy_key, forces_key):
                        if key not in conf:
                            raise ValueError(
                                f"{where}: missing key {key!r}; present: {sorted(conf.keys())} "
                                f"({dataset} needs atNUM, atXYZ and the chosen energy_key/forces_key)"
                            )
                    try:
                        z = np.asarray(conf[DEFAULT_KEYS["z"]][()]).reshape(-1).astype(np.float64)
                    except (TypeError, ValueError):
                        raise ValueError(f"{where}: {DEFAULT_KEYS['z']} must hold atomic numbers, got "
                                         f"{conf[DEFAULT_KEYS['z']][()]!r:.80}") from None
                    n = z.shape[0]
                    if n < min_atoms or (max_atoms is not None and n > max_atoms):
                        continue
                    pos = np.asarray(conf[DEFAULT_KEYS["pos"]][()], dtype=np.float64)
                    forces = np.asarray(conf[forces_key][()], dtype=np.float64)
                    energy = np.asarray(conf[energy_key][()], dtype=np.float64).reshape(-1)
                    if pos.shape != (n, 3):
                        raise ValueError(f"{where}: key 'atXYZ' has shape {pos.shape}, expected ({n}, 3)")
                    if forces.shape != (n, 3):
                        raise ValueError(f"{where}: key {forces_key!r} has shape {forces.shape}, expected ({n}, 3)")
                    if energy.shape != (1,):
                        raise ValueError(f"{where}: key {energy_key!r} has shape {energy.shape}, expected (1,) or ()")
                    for key, arr in (("atXYZ", pos), (forces_key, forces), (energy_key, energy)):
                        if not np.all(np.isfinite(arr)):
                            raise ValueError(f"{where}: key {key!r} contains NaN or inf; only finite values are accepted")
                    if mol_index is None:
                        mol_index = len(molecules)
                        molecules.append(str(mol_key))
                    z_all.append(z)
                    pos_all.append(pos)
                    f_all.append(forces)
                    e_all.append(energy[0])
                    n_all.append(n)
                    mol_all.append(mol_index)
    if not n_all:
        raise ValueError(f"{', '.join(files)}: no {dataset} structures with {min_atoms}..{max_atoms or 'any'} atoms")
    return Frames.from_arrays(
        z=np.concatenate(z_all),
        pos=np.concatenate(pos_all) * lf,
        energy=np.array(e_all) * ef,
        forces=np.concatenate(f_all) * (ef / lf),
        n_atoms=n_all,
        mol_id=mol_all,
        molecules=molecules,
        source=files[0] if len(files) == 1 else f"{files[0]} (+{len(files) - 1} files)",
        metadata={"format": dataset.lower(), "files": files, "energy_key": energy_key, "forces_key": forces_key},
    )


def read_aqm(paths: Union[str, List[str]], **options) -> Frames:
    """Read Aquamarine (AQM) HDF5 file(s); same layout and options as :func:`read_qm7x`."""
    options.setdefault("dataset", "AQM")
    return read_qm7x(paths, **options)
