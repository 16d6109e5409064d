"""The RANGE block: aggregation to master nodes and broadcast back to the atoms.

Notation follows docs/architecture.md and the paper (Caruso et al., Supplementary Note 1):
``h`` hidden size, ``L`` heads, ``d = h / L``, ``M`` master nodes, ``f = 7`` positional RBFs.
"""
from typing import Tuple

import torch
from torch import nn

from .mlp import MLP, activation, attention_activation


def segment_sum(x: torch.Tensor, index: torch.Tensor, num_segments: int) -> torch.Tensor:
    """Sum rows of ``x`` (N, ...) that share ``index`` (N,) -> (num_segments, ...).

    With one segment (a single molecule, as in exported modules) this is a plain sum,
    which is much faster than a scatter onto a single row.
    """
    if num_segments == 1:
        return x.sum(0, keepdim=True)
    out = torch.zeros([num_segments] + list(x.shape[1:]), dtype=x.dtype, device=x.device)
    return out.index_add_(0, index, x)


def gather_segments(x: torch.Tensor, index: torch.Tensor, num_segments: int) -> torch.Tensor:
    """Per-row copy ``x[index]`` of per-segment values x (num_segments, ...); a broadcast view for one segment."""
    if num_segments == 1:
        return x.expand([index.shape[0]] + list(x.shape[1:]))
    return x[index]


def segment_softmax(logits: torch.Tensor, index: torch.Tensor, num_segments: int) -> torch.Tensor:
    """Softmax of ``logits`` (N, M, L) over the rows that share ``index`` (N,) -> (N, M, L).

    Shapes are static (no data-dependent sizes, no host synchronisation), so the
    operation can be captured in a CUDA graph.
    """
    if num_segments == 1:
        return torch.softmax(logits, dim=0)
    shape = [num_segments, logits.shape[1], logits.shape[2]]
    idx = index.view(-1, 1, 1).expand_as(logits)
    peak = torch.full(shape, -1e30, dtype=logits.dtype, device=logits.device)
    peak = peak.scatter_reduce(0, idx, logits.detach(), reduce="amax", include_self=True)
    ex = torch.exp(logits - peak[index])
    denom = torch.zeros(shape, dtype=logits.dtype, device=logits.device).index_add_(0, index, ex)
    return ex / denom[index]


def _inverse_softplus(x: float) -> float:
    return float(torch.log(torch.expm1(torch.tensor(x, dtype=torch.float64))))


def _logit(p: float) -> float:
    return float(torch.log(torch.tensor(p / (1.0 - p), dtype=torch.float64)))


class RangeBlock(nn.Module):
    ATOM_PROJ = ("agg_k", "agg_v", "bc_q", "bc_k_self", "bc_v_self")
    POS_PROJ = ("agg_e", "bc_e")

    """Aggregation + broadcast through ``M`` master nodes with ``L``-head additive attention.

    Aggregation (atoms -> master node I, head l)::

        alpha_iI = a . LeakyReLU(A_Q H_I + A_K h_i + A_E E_i)        softmax over atoms of the graph
        H_I'     = sigma(concat_l sum_i alpha_iI A_V h_i)

    Broadcast (master nodes + self-loop -> atom i, head l)::

        beta_self = b . LeakyReLU(B_Q h_i + B_Kself h_i)
        beta_iI   = b . LeakyReLU(B_Q h_i + B_K H_I'^l + B_E E_i)   softmax over {self, 1..M}
        beta_iI  <- Lambda_I(n) beta_iI                              (self untouched)
        h_i'      = MLP(concat_l beta_self B_Vself h_i + sum_I beta_iI B_V H_I'^l)

    ``B_K`` and ``B_V`` act on the d-sized head-l slice of a master node only (one d x d
    matrix per head), keeping the heads independent until the final mixing MLP.

    Size-dependent regulariser: ``Lambda_1 = 1``; for I > 1
    ``Lambda_I(n) = lambda_I ** gamma_I(n)``,
    ``gamma_I(n) = (1 + a_I) |max(0, 1 - n) + tanh(b_I) min(1, n)|``.
    Constraints are enforced by parametrisation: ``lambda_I = sigmoid(.)`` in (0, 1),
    ``a_I = softplus(.)`` and ``b_I = softplus(.)`` > 0.
    """

    def __init__(self, hidden: int, num_heads: int, num_master_nodes: int, num_pos_rbf: int = 7,
                 act: str = "tanh", negative_slope: float = 0.2, score_act: str = "leaky_relu"):
        super().__init__()
        if hidden % num_heads != 0:
            raise ValueError(f"hidden_channels ({hidden}) must be divisible by num_heads ({num_heads})")
        if num_master_nodes < 1:
            raise ValueError(f"num_master_nodes must be >= 1, got {num_master_nodes}")
        self.hidden = hidden
        self.heads = num_heads
        self.head_dim = hidden // num_heads
        self.num_master = num_master_nodes
        L, d = num_heads, self.head_dim
        self.leaky = attention_activation(score_act, negative_slope)
        # Projections of the atom features (A_K, A_V, B_Q, B_Kself, B_Vself) and of the positional
        # encoding (A_E, B_E) are each computed with one matrix multiply; ATOM_PROJ / POS_PROJ
        # name the row blocks. Only A_Q and B_Q carry a bias (one bias per sum suffices).
        self.atom_proj = nn.Linear(hidden, len(self.ATOM_PROJ) * hidden, bias=False)
        self.pos_proj = nn.Linear(num_pos_rbf, len(self.POS_PROJ) * hidden, bias=False)
        self.bc_q_bias = nn.Parameter(torch.zeros(hidden))
        # aggregation
        self.agg_q = nn.Linear(hidden, hidden)
        self.agg_a = nn.Parameter(torch.randn(L, d) / d**0.5)
        self.agg_act = activation(act)
        # broadcast
        self.bc_k = nn.Parameter(torch.randn(L, d, d) / d**0.5)
        self.bc_v = nn.Parameter(torch.randn(L, d, d) / d**0.5)
        self.bc_b = nn.Parameter(torch.randn(L, d) / d**0.5)
        self.mix = MLP([hidden, hidden, hidden], act)
        # regulariser parameters for master nodes 2..M (lambda_1 = 1 is fixed)
        extra = num_master_nodes - 1
        self.lambda_raw = nn.Parameter(torch.full((extra,), _logit(0.9)))
        self.a_raw = nn.Parameter(torch.full((extra,), _inverse_softplus(0.1)))
        self.b_raw = nn.Parameter(torch.full((extra,), _inverse_softplus(1.0)))

    def projection_weight(self, name: str) -> torch.Tensor:
        """The (h, h) or (h, f) matrix of one named projection (for inspection and tests)."""
        h = self.hidden
        if name in self.ATOM_PROJ:
            k = self.ATOM_PROJ.index(name)
            return self.atom_proj.weight[k * h:(k + 1) * h]
        k = self.POS_PROJ.index(name)
        return self.pos_proj.weight[k * h:(k + 1) * h]

    # -- regulariser -------------------------------------------------------------------
    def lambdas(self) -> torch.Tensor:
        """(M,) lambda_I; lambda_1 = 1 exactly, the others in (0, 1)."""
        one = torch.ones(1, dtype=self.lambda_raw.dtype, device=self.lambda_raw.device)
        return torch.cat([one, torch.sigmoid(self.lambda_raw)])

    def master_scale(self, n: torch.Tensor) -> torch.Tensor:
        """Lambda_I(n) for normalised sizes ``n`` (B,) -> (B, M), each in [0, 1]."""
        lam = torch.sigmoid(self.lambda_raw)
        a = nn.functional.softplus(self.a_raw)
        b = nn.functional.softplus(self.b_raw)
        n = n.unsqueeze(-1)
        gamma = (1.0 + a) * torch.abs(torch.clamp(1.0 - n, min=0.0) + torch.tanh(b) * torch.clamp(n, max=1.0))
        rest = torch.exp(gamma * torch.log(lam))
        return torch.cat([torch.ones_like(n), rest], dim=-1)

    def regularization(self) -> torch.Tensor:
        """Sum over I > 1 of |lambda_I + a_I + b_I| (multiply by delta for L_reg)."""
        lam = torch.sigmoid(self.lambda_raw)
        a = nn.functional.softplus(self.a_raw)
        b = nn.functional.softplus(self.b_raw)
        return torch.abs(lam + a + b).sum()

    # -- forward -----------------------------------------------------------------------
    def forward(self, s: torch.Tensor, master: torch.Tensor, pos_rbf: torch.Tensor, batch: torch.Tensor,
                num_graphs: int, size_n: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """
        Args:
            s: (N, h) atom scalar features after the local update.
            master: (B, M, h) master-node states from the previous layer.
            pos_rbf: (N, f) positional encoding E_i.
            batch: (N,) graph index of each atom.
            num_graphs: B.
            size_n: (B,) normalised graph sizes n.
        Returns:
            new atom features (N, h) and new master states (B, M, h).
        """
        N = s.shape[0]
        M, L, d = self.num_master, self.heads, self.head_dim
        agg_k, agg_v, bc_q, bc_k_self, bc_v_self = torch.split(self.atom_proj(s), self.hidden, dim=-1)
        agg_e, bc_e = torch.split(self.pos_proj(pos_rbf), self.hidden, dim=-1)
        # aggregation: atoms -> master nodes
        q = self.agg_q(master).view(num_graphs, M, L, d)
        k = (agg_k + agg_e).view(N, 1, L, d)
        alpha = (self.leaky(gather_segments(q, batch, num_graphs) + k) * self.agg_a).sum(-1)
        alpha = segment_softmax(alpha, batch, num_graphs)
        values = agg_v.reshape(N, 1, L, d)
        new_master = self.agg_act(segment_sum(alpha.unsqueeze(-1) * values, batch, num_graphs))
        # broadcast: master nodes + self-loop -> atoms
        qb = (bc_q + self.bc_q_bias).view(N, L, d)
        beta_self = (self.leaky(qb + bc_k_self.reshape(N, L, d)) * self.bc_b).sum(-1)
        keys = torch.einsum("lde,bmle->bmld", self.bc_k, new_master)
        eb = bc_e.reshape(N, 1, L, d)
        beta_m = (self.leaky(qb.unsqueeze(1) + gather_segments(keys, batch, num_graphs) + eb) * self.bc_b).sum(-1)
        beta = torch.softmax(torch.cat([beta_self.unsqueeze(1), beta_m], dim=1), dim=1)
        w_self = beta[:, 0]
        w_master = beta[:, 1:] * gather_segments(self.master_scale(size_n), batch, num_graphs).unsqueeze(-1)
        vals = torch.einsum("lde,bmle->bmld", self.bc_v, new_master)
        out = w_self.unsqueeze(-1) * bc_v_self.reshape(N, L, d) + (w_master.unsqueeze(-1) * gather_segments(vals, batch, num_graphs)).sum(1)
        return self.mix(out.reshape(N, self.hidden)), new_master.reshape(num_graphs, M, self.hidden)
