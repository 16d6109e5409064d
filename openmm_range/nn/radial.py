"""Gaussian radial basis expansion."""
import torch
from torch import nn


class GaussianRBF(nn.Module):
    """Expand distances into ``n`` Gaussians with centres evenly spaced on [start, stop].

    ``phi_k(r) = exp(-(r - mu_k)^2 / (2 w^2))`` with ``w`` the centre spacing.

    Input ``r``: (...,) in the units of ``start``/``stop`` (Å for interatomic distances,
    unit-free for RANGE's normalised master-node distances). Output: (..., n).

    Where the exponent is below ``-MIN_EXPONENT`` (phi < 1.8e-35) phi is exactly 0. Without
    that, float32 Gaussians far from their centre are subnormal numbers, and CPUs handle those
    in microcode: they made the backward pass of training 3-6x slower (SchNet 5 and 12 Å on DHA,
    measured). The change to phi is below float32 resolution.
    """

    #: exponents below minus this give phi = 0 (exp(-80) = 1.8e-35, above float32's smallest normal 1.2e-38)
    MIN_EXPONENT = 80.0

    def __init__(self, n: int, stop: float, start: float = 0.0):
        super().__init__()
        if n < 2:
            raise ValueError(f"GaussianRBF needs at least 2 functions, got n={n}")
        centres = torch.linspace(start, stop, n, dtype=torch.float64)
        width = float(centres[1] - centres[0])
        self.register_buffer("centres", centres.to(torch.get_default_dtype()))
        self.coeff = -0.5 / width**2
        self.n = n
        self.min_exponent = -self.MIN_EXPONENT  # an instance float: TorchScript cannot read class constants

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        arg = self.coeff * (r.unsqueeze(-1) - self.centres) ** 2
        keep = arg > self.min_exponent
        return torch.exp(arg.clamp(min=self.min_exponent)) * keep.to(arg.dtype)
