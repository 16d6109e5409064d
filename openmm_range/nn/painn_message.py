"""PaiNN message block (scalar and vector features)."""
import torch
from torch import nn

from .mlp import MLP


class PaiNNMessage(nn.Module):
    """PaiNN message step (Schütt et al. 2021, eqs. 7-8).

    ``phi(s_j) * W(r_ij) * f_cut`` is split into (ds, dv_v, dv_r);
    ``ds_i = sum_j ds``, ``dv_i = sum_j dv_v * v_j + dv_r * u_ij`` with ``u_ij`` the unit
    vector from i to j.

    Shapes: s (N, F); v (N, 3, F); edge_src/edge_dst (E,); rbf (E, R); fcut (E,); unit (E, 3).
    Returns updated (s, v) with residual connections.
    """

    def __init__(self, features: int, num_rbf: int, act: str = "tanh"):
        super().__init__()
        self.features = features
        self.phi = MLP([features, features, 3 * features], act)
        self.filter = nn.Linear(num_rbf, 3 * features)

    def forward(self, s: torch.Tensor, v: torch.Tensor, edge_src: torch.Tensor, edge_dst: torch.Tensor,
                rbf: torch.Tensor, fcut: torch.Tensor, unit: torch.Tensor):
        x = self.phi(s)[edge_src] * (self.filter(rbf) * fcut.unsqueeze(-1))
        ds, dvv, dvr = torch.split(x, self.features, dim=-1)
        dv = dvv.unsqueeze(1) * v[edge_src] + dvr.unsqueeze(1) * unit.unsqueeze(-1)
        s = s + torch.zeros_like(s).index_add_(0, edge_dst, ds)
        v = v + torch.zeros_like(v).index_add_(0, edge_dst, dv)
        return s, v
