"""Benchmark systems generated on the fly (no files): water clusters of any size."""
import math
from pathlib import Path

import torch


#: the checkout's root: default inputs of the benchmarks are named relative to it
ROOT = Path(__file__).resolve().parents[1]


def in_repo(path: str) -> str:
    """``path`` as given if it exists from the working directory, else relative to the checkout's
    root, so that a benchmark run from another directory still finds its default inputs."""
    return path if Path(path).exists() or Path(path).is_absolute() else str(ROOT / path)


def water_cluster(n_atoms: int, seed: int = 0, spacing: float = 3.1):
    """A roughly spherical cluster of ``n_atoms // 3`` randomly oriented water molecules.

    Molecules sit on a cubic lattice of ``spacing`` Å (about liquid density), so the number of
    neighbours within a cutoff matches condensed-phase systems. Returns atomic numbers (N,)
    and positions (N, 3) in Å, with N = 3 * (n_atoms // 3).
    """
    g = torch.Generator().manual_seed(seed)
    n_mol = max(1, n_atoms // 3)
    side = math.ceil(n_mol ** (1 / 3)) + 2
    grid = torch.stack(torch.meshgrid(*[torch.arange(side, dtype=torch.float64)] * 3, indexing="ij"), -1).reshape(-1, 3)
    grid = (grid - grid.mean(0)) * spacing
    centres = grid[torch.argsort(grid.norm(dim=1))][:n_mol]
    bond, angle = 0.9572, math.radians(104.52)
    local = torch.tensor([[0.0, 0.0, 0.0], [bond, 0.0, 0.0], [bond * math.cos(angle), bond * math.sin(angle), 0.0]],
                         dtype=torch.float64)
    q, _ = torch.linalg.qr(torch.randn(n_mol, 3, 3, generator=g, dtype=torch.float64))
    pos = centres[:, None, :] + torch.einsum("mij,aj->mai", q, local)
    z = torch.tensor([8, 1, 1]).repeat(n_mol)
    return z, pos.reshape(-1, 3)


def water_box(n_atoms: int, seed: int = 0, spacing: float = 3.1):
    """A periodic cubic box of randomly oriented water molecules at about liquid density.

    Molecules sit on a cubic lattice of ``spacing`` Å with ``k = round((n_atoms / 3) ** (1/3))``
    molecules per edge, so every atom has the same environment density (no surface), and the
    number of neighbours per atom does not change with system size. Returns atomic numbers
    (N,), positions (N, 3) Å and the box (3, 3) Å, N = 3 k^3.
    """
    k = max(2, round((n_atoms / 3) ** (1 / 3)))
    g = torch.Generator().manual_seed(seed)
    grid = torch.stack(torch.meshgrid(*[torch.arange(k, dtype=torch.float64)] * 3, indexing="ij"), -1).reshape(-1, 3)
    centres = (grid + 0.5) * spacing
    bond, angle = 0.9572, math.radians(104.52)
    local = torch.tensor([[0.0, 0.0, 0.0], [bond, 0.0, 0.0], [bond * math.cos(angle), bond * math.sin(angle), 0.0]],
                         dtype=torch.float64)
    q, _ = torch.linalg.qr(torch.randn(k**3, 3, 3, generator=g, dtype=torch.float64))
    pos = centres[:, None, :] + torch.einsum("mij,aj->mai", q, local)
    z = torch.tensor([8, 1, 1]).repeat(k**3)
    return z, pos.reshape(-1, 3), torch.eye(3, dtype=torch.float64) * (k * spacing)
