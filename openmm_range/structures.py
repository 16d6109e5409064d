"""Bundled structures and a minimal XYZ reader (positions in Å)."""
from pathlib import Path
from typing import Tuple

import torch

from .elements import to_atomic_numbers

RESOURCES = Path(__file__).resolve().parent / "resources"


def read_xyz(path) -> Tuple[torch.Tensor, torch.Tensor]:
    """Atomic numbers (N,) and positions (N, 3) in Å of the first frame of a plain XYZ file."""
    lines = Path(path).read_text().splitlines()
    try:
        n = int(lines[0].split()[0])
        rows = [line.split() for line in lines[2:2 + n]]
        z = to_atomic_numbers(r[0] for r in rows)
        pos = torch.tensor([[float(x) for x in r[1:4]] for r in rows], dtype=torch.float64)
    except (IndexError, ValueError) as exc:
        raise ValueError(f"{path}: not a valid XYZ file ({exc})") from None
    if pos.shape != (n, 3):
        raise ValueError(f"{path}: header says {n} atoms but {pos.shape[0]} coordinate lines were read")
    return torch.tensor(z), pos


def dha() -> Tuple[torch.Tensor, torch.Tensor]:
    """Docosahexaenoic acid (C22H32O2, 56 atoms), atomic numbers and positions in Å."""
    return read_xyz(RESOURCES / "dha.xyz")


def dha_pdb_path() -> Path:
    """Path of the bundled DHA PDB file (with CONECT records), for OpenMM."""
    return RESOURCES / "dha.pdb"
