"""The long-range head: learned atomic charges and C6 coefficients, interacting between molecules.

Within a molecule, long range is RANGE's job (master nodes). *Between* molecules the
model adds an explicit, physical pair energy over every pair (i, j) of atoms in
different molecules of one structure (docs/architecture.md, "Molecules and long range"):

    E_lr = sum_{i<j, mol(i) != mol(j)} S(r_ij) [ k_e q_i q_j / sqrt(r_ij^2 + a^2)
                                                 - sqrt(c_i c_j) / (r_ij^6 + R0^6) ]

* charges ``q_i = q~_i + (Q_m - sum_{j in m} q~_j) / n_m``: a linear readout of the final
  atom features, shifted so that each molecule m carries exactly its total charge Q_m (e).
  Far apart, two molecules therefore interact as the Coulomb energy of their charge
  distributions: ``k_e Q_A Q_B / R`` for ions, dipole-dipole (~R^-3) for neutral ones;
* ``c_i = softplus(.)`` (eV Å^6) from the same features; geometric-mean combination;
* ``a`` (Å) softens the Coulomb term and ``R0`` (Å) damps the dispersion at contact, so the
  energy is smooth everywhere; the local network corrects short range;
* ``S(r) = 1`` without periodic boundaries. With them, the pair vectors are minimum
  images and ``S`` switches smoothly (C2) from 1 at ``0.8 r_off`` to 0 at ``r_off``, with
  ``r_off`` at most half the smallest box width, so nothing jumps at the half-box surface.

Units: Å, e, eV. Shapes below: N atoms, P intermolecular pairs, G molecules.
"""
from typing import Optional, Tuple

import torch
from torch import nn

from ..units import COULOMB_EV_ANGSTROM
from .mlp import MLP

#: values of ``ModelConfig.long_range``
LONG_RANGE_HEADS = ("none", "coulomb-dispersion")


class LongRangeHead(nn.Module):
    """Charges (N,) and intermolecular pair energies (P,) from atom features (N, h)."""

    def __init__(self, hidden: int, activation: str, softening: float = 1.0, dispersion_radius: float = 3.0):
        super().__init__()
        self.charge_net = MLP([hidden, hidden // 2, 1], activation)
        self.c6_net = MLP([hidden, hidden // 2, 1], activation)
        self.softening_sq = float(softening) ** 2
        self.r0_6 = float(dispersion_radius) ** 6
        self.coulomb = COULOMB_EV_ANGSTROM
        with torch.no_grad():
            # start with small charges and C6 ~ 5 eV Å^6 (carbon-carbon is ~15)
            last = self.charge_net[-1]
            last.weight.mul_(0.1)
            last.bias.zero_()
            self.c6_net[-1].bias.fill_(5.0)

    def charges(self, s: torch.Tensor, group: torch.Tensor, num_groups: int,
                group_charge: torch.Tensor) -> torch.Tensor:
        """Atomic charges (N,) e; those of molecule m sum to ``group_charge[m]``."""
        raw = self.charge_net(s).squeeze(-1)
        ones = torch.ones_like(raw)
        count = torch.zeros(num_groups, dtype=raw.dtype, device=raw.device).index_add_(0, group, ones)
        total = torch.zeros(num_groups, dtype=raw.dtype, device=raw.device).index_add_(0, group, raw)
        return raw + ((group_charge.to(raw.dtype) - total) / count)[group]

    def pair_energy(self, s: torch.Tensor, q: torch.Tensor, inter_src: torch.Tensor, inter_dst: torch.Tensor,
                    inter_vec: torch.Tensor, switch_off: Optional[torch.Tensor]) -> torch.Tensor:
        """Energies (P,) eV of the intermolecular pairs; ``inter_vec`` (P, 3) Å.

        ``switch_off``: None (open boundaries, no switch) or the smooth cut-off radius (Å), a 0-d
            tensor or one per pair (P,).
        """
        r2 = (inter_vec * inter_vec).sum(-1)
        c6 = nn.functional.softplus(self.c6_net(s).squeeze(-1))
        coulomb = self.coulomb * q[inter_src] * q[inter_dst] / torch.sqrt(r2 + self.softening_sq)
        dispersion = torch.sqrt(c6[inter_src] * c6[inter_dst] + 1e-12) / (r2 * r2 * r2 + self.r0_6)
        energy = coulomb - dispersion
        if switch_off is not None:
            energy = energy * smooth_switch(torch.sqrt(r2 + 1e-12), 0.8 * switch_off, switch_off)
        return energy

    def forward(self, s: torch.Tensor, group: torch.Tensor, num_groups: int, group_charge: torch.Tensor,
                inter_src: torch.Tensor, inter_dst: torch.Tensor, inter_vec: torch.Tensor,
                switch_off: Optional[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(pair energies (P,) eV, charges (N,) e)``."""
        q = self.charges(s, group, num_groups, group_charge)
        return self.pair_energy(s, q, inter_src, inter_dst, inter_vec, switch_off), q


def smooth_switch(r: torch.Tensor, r_on: torch.Tensor, r_off: torch.Tensor) -> torch.Tensor:
    """1 below ``r_on``, 0 above ``r_off`` (Å; 0-d, or one per ``r``), quintic smooth-step between (C2)."""
    x = torch.clamp((r - r_on) / (r_off - r_on), 0.0, 1.0)
    return 1.0 - x * x * x * (10.0 - 15.0 * x + 6.0 * x * x)
