"""``load_dataset``: one entry point for every supported file format.

=========== ================================================ ===============================
format      what                                             recognised by
=========== ================================================ ===============================
range       dataset directory from ``data generate``         directory with meta.json
range-npz   single-file dataset (``data convert``)           .npz with ``format`` key
sgdml       MD17 / MD22 (sGDML) and rMD17 .npz               .npz with R, z, E, F (or rMD17 keys)
qm7x        QM7-X HDF5 (a file or a directory of them)       .hdf5/.h5 with file[mol][conf]/atNUM
aqm         Aquamarine HDF5 (same layout as QM7-X)           as qm7x, file name contains "aqm"
extxyz      extended XYZ                                     .xyz / .extxyz
ase-db      ASE database                                     .db / .json
=========== ================================================ ===============================
"""
import os
import sqlite3
import zipfile
from typing import Callable, Dict, Optional

import torch

from openmm_range.data import store
from openmm_range.data.dataset import AtomsDataset
from openmm_range.data.frames import Frames
from openmm_range.data.readers import read_aqm, read_ase_db, read_extxyz, read_qm7x, read_sgdml
from openmm_range.data.readers.qm7x import is_group_hdf5
from openmm_range.data.readers.sgdml import is_sgdml

READERS: Dict[str, Callable[..., Frames]] = {
    "range": store.load_dataset_dir,
    "range-npz": store.load_frames_npz,
    "sgdml": read_sgdml,
    "qm7x": read_qm7x,
    "aqm": read_aqm,
    "extxyz": read_extxyz,
    "ase-db": read_ase_db,
}
FORMATS = tuple(READERS)


def sniff_format(path: str) -> str:
    """Name of the format of ``path`` (see the module table); ValueError if it cannot tell."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file or directory")
    lower = os.path.basename(os.path.normpath(path)).lower()
    if os.path.isdir(path):
        if store.is_dataset_dir(path):
            return "range"
        if any(f.lower().endswith((".hdf5", ".h5")) for f in os.listdir(path)):
            return "aqm" if "aqm" in lower else "qm7x"
    elif lower.endswith(".npz"):
        if store.is_frames_npz(path):
            return "range-npz"
        if is_sgdml(path):
            return "sgdml"
    elif lower.endswith((".hdf5", ".h5")):
        if is_group_hdf5(path):
            return "aqm" if "aqm" in lower else "qm7x"
    elif lower.endswith((".xyz", ".extxyz")):
        return "extxyz"
    elif lower.endswith((".db", ".json")):
        return "ase-db"
    raise ValueError(f"{path}: cannot tell the dataset format; give it (--format on the command line, format= in "
                     f"Python): one of {list(FORMATS)}")


def read_frames(path: str, format: Optional[str] = None, **options) -> Frames:
    """Read ``path`` into Frames (internal units); ``options`` go to the format's reader."""
    fmt = format or sniff_format(path)
    if fmt not in READERS:
        raise ValueError(f"unknown dataset format {fmt!r}; accepted: {list(FORMATS)}")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file or directory")
    try:
        return READERS[fmt](path, **options)
    except (EOFError, zipfile.BadZipFile, sqlite3.DatabaseError) as exc:  # empty, truncated or another kind of file
        raise ValueError(f"{path}: not a readable {fmt} file ({type(exc).__name__}: {exc})") from None


def load_dataset(path: str, format: Optional[str] = None, dtype: torch.dtype = torch.float64, **options) -> AtomsDataset:
    """Load any supported dataset as an :class:`AtomsDataset` (positions Å, energies eV, forces eV/Å).

    ``format`` is sniffed from the extension/content when not given; ``options`` are passed
    to the reader (e.g. ``min_atoms=30`` for AQM, ``energy_key="REF_energy"`` for extxyz)."""
    return AtomsDataset(read_frames(path, format=format, **options), dtype=dtype)
