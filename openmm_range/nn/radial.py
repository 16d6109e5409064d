"""Gaussian radial basis expansion."""
import torch
from torch import nn


class GaussianRBF(nn.Module):
    """Expand distances into ``n`` Gaussians with centres evenly spaced on [start, stop].

    ``phi_k(r) = exp(-(r - mu_k)^2 / (2 w^2))`` with ``w`` the centre spacing.

    Input ``r``: (...,) in the units of ``start``/``stop`` (Å for interatomic distances,
    unit-free for RANGE's normalised master-node distances). Output: (..., n).
    """

    def __init__(self, n: int, stop: float, start: float = 0.0):
        super().__init__()
        if n < 2:
            raise ValueError(f"GaussianRBF needs at least 2 functions, got n={n}")
        centres = torch.linspace(start, stop, n, dtype=torch.float64)
        width = float(centres[1] - centres[0])
        self.register_buffer("centres", centres.to(torch.get_default_dtype()))
        self.coeff = -0.5 / width**2
        self.n = n

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        return torch.exp(self.coeff * (r.unsqueeze(-1) - self.centres) ** 2)
