"""PaiNN update block (mixes scalar and vector channels within each atom)."""
import torch
from torch import nn

from .mlp import MLP


class PaiNNUpdate(nn.Module):
    """PaiNN update step (Schütt et al. 2021, eqs. 9-11).

    ``a = MLP([s, ||V v||])`` split into (a_vv, a_sv, a_ss);
    ``v <- v + a_vv * U v``; ``s <- s + a_sv * <U v, V v> + a_ss``.
    The norm uses ``sqrt(x + eps)`` so that its gradient is finite at zero vectors.

    Shapes: s (N, F); v (N, 3, F). Returns updated (s, v).
    """

    def __init__(self, features: int, act: str = "tanh", eps: float = 1e-8):
        super().__init__()
        self.features = features
        self.eps = eps
        self.U = nn.Linear(features, features, bias=False)
        self.V = nn.Linear(features, features, bias=False)
        self.mix = MLP([2 * features, features, 3 * features], act)

    def forward(self, s: torch.Tensor, v: torch.Tensor):
        uv = self.U(v)
        vv = self.V(v)
        norm = torch.sqrt((vv * vv).sum(dim=1) + self.eps)
        a = self.mix(torch.cat([s, norm], dim=-1))
        a_vv, a_sv, a_ss = torch.split(a, self.features, dim=-1)
        v = v + a_vv.unsqueeze(1) * uv
        s = s + a_sv * (uv * vv).sum(dim=1) + a_ss
        return s, v
