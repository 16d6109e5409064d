"""Cosine cutoff function."""
import math

import torch
from torch import nn


class CosineCutoff(nn.Module):
    """``f(r) = 0.5 (cos(pi r / r_c) + 1)`` for ``r < r_c``, else 0.

    Value and first derivative vanish at ``r_c``, so energies and forces stay continuous
    when an atom crosses the cutoff. Input (...,) in Å, output (...,) unit-free.
    """

    def __init__(self, cutoff: float):
        super().__init__()
        if not cutoff > 0:
            raise ValueError(f"cutoff must be positive (Å), got {cutoff!r}")
        self.cutoff = float(cutoff)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        f = 0.5 * (torch.cos(r * (math.pi / self.cutoff)) + 1.0)
        return torch.where(r < self.cutoff, f, torch.zeros_like(f))
