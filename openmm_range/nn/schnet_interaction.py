"""SchNet interaction block (continuous-filter convolution)."""
import torch
from torch import nn

from .mlp import MLP


class SchNetInteraction(nn.Module):
    """One SchNet interaction: ``h_i <- h_i + v(sum_j x_j * W(r_ij))``.

    ``x = Lin(h)`` (h -> F), the filter ``W(r) = MLP(rbf(r)) * f_cut(r)`` (R -> F -> F),
    ``v = MLP`` (F -> h -> h). Messages travel from ``src`` (j) to ``dst`` (i); with
    ``both_ways`` each pair also carries the message from ``dst`` to ``src``, so the filter,
    which depends only on the distance, is computed once per pair (half the edge work).

    Shapes: s (N, h); edge_src, edge_dst (E,) long; rbf (E, R); fcut (E,). Output (N, h).
    """

    def __init__(self, hidden: int, filters: int, num_rbf: int, act: str = "tanh"):
        super().__init__()
        self.in2f = nn.Linear(hidden, filters, bias=False)
        self.filter_net = MLP([num_rbf, filters, filters], act)
        self.f2out = MLP([filters, hidden, hidden], act)

    def forward(self, s: torch.Tensor, edge_src: torch.Tensor, edge_dst: torch.Tensor, rbf: torch.Tensor,
                fcut: torch.Tensor, both_ways: bool = False) -> torch.Tensor:
        w = self.filter_net(rbf) * fcut.unsqueeze(-1)
        x = self.in2f(s)
        agg = torch.zeros(s.shape[0], x.shape[1], dtype=s.dtype, device=s.device).index_add_(0, edge_dst, x[edge_src] * w)
        if both_ways:
            agg = agg.index_add_(0, edge_src, x[edge_dst] * w)
        return s + self.f2out(agg)
