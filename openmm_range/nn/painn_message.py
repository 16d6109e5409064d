"""PaiNN message block (scalar and vector features)."""
from typing import Tuple

import torch
from torch import nn

from .mlp import MLP


class PaiNNMessage(nn.Module):
    """PaiNN message step (Schütt et al. 2021, eqs. 7-8).

    ``phi(s_j) * W(r_ij) * f_cut`` is split into (ds, dv_v, dv_r);
    ``ds_i = sum_j ds``, ``dv_i = sum_j dv_v * v_j + dv_r * u_ij`` with ``u_ij`` the unit
    vector from i to j. With ``both_ways`` each pair also carries the message from ``dst`` to
    ``src`` (same filter, unit vector reversed), so the filter is computed once per pair.

    Shapes: s (N, F); v (N, 3, F); edge_src/edge_dst (E,); rbf (E, R); fcut (E,); unit (E, 3).
    Returns updated (s, v) with residual connections.

    ``zero_vectors``: the block's input vectors are always zero (PaiNN's first layer), so the
    ``dv_v * v_j`` term is skipped; the result is the same, a few per cent sooner.
    """

    def __init__(self, features: int, num_rbf: int, act: str = "tanh", zero_vectors: bool = False):
        super().__init__()
        self.features = features
        self.zero_vectors = zero_vectors
        self.phi = MLP([features, features, 3 * features], act)
        self.filter = nn.Linear(num_rbf, 3 * features)

    def forward(self, s: torch.Tensor, v: torch.Tensor, edge_src: torch.Tensor, edge_dst: torch.Tensor,
                rbf: torch.Tensor, fcut: torch.Tensor, unit: torch.Tensor, both_ways: bool = False):
        w = self.filter(rbf) * fcut.unsqueeze(-1)
        phi = self.phi(s)
        ds, dv = self._messages(phi, v, w, unit, edge_src, edge_dst, torch.zeros_like(s), torch.zeros_like(v))
        if both_ways:
            ds, dv = self._messages(phi, v, w, -unit, edge_dst, edge_src, ds, dv)
        return s + ds, v + dv

    def _messages(self, phi: torch.Tensor, v: torch.Tensor, w: torch.Tensor, unit: torch.Tensor, src: torch.Tensor,
                  dst: torch.Tensor, ds_sum: torch.Tensor, dv_sum: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Add the messages src -> dst to (ds_sum (N, F), dv_sum (N, 3, F)); unit (E, 3) points from dst to src."""
        ds, dvv, dvr = torch.split(phi[src] * w, self.features, dim=-1)
        dv = dvr.unsqueeze(1) * unit.unsqueeze(-1)
        if not self.zero_vectors:
            dv = dvv.unsqueeze(1) * v[src] + dv
        return ds_sum.index_add_(0, dst, ds), dv_sum.index_add_(0, dst, dv)
