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


#: the forms of the RANGE block: the paper's equations, and v2 (symmetry-broken master nodes, residual paths)
RANGE_FORMS = ("paper", "v2")


def _spread(first: float, last: float, count: int) -> torch.Tensor:
    """``count`` values evenly from ``first`` to ``last`` (``first`` alone when count == 1)."""
    if count == 1:
        return torch.tensor([first], dtype=torch.float64)
    return torch.linspace(first, last, count, dtype=torch.float64)


def _radial_preference(num_master: int, num_heads: int, num_rbf: int, amplitude: float = 3.0,
                       width: float = 0.2) -> torch.Tensor:
    """(M * L, f) initial positional score weights: for master I (all heads) a Gaussian bump of
    height ``amplitude`` over the radial-basis centres (evenly on [0, 1]) at rho_I = I / (M - 1)."""
    centres = torch.linspace(0.0, 1.0, num_rbf, dtype=torch.float64)
    rho = torch.linspace(0.0, 1.0, num_master, dtype=torch.float64) if num_master > 1 \
        else torch.zeros(1, dtype=torch.float64)
    bump = amplitude * torch.exp(-0.5 * ((centres.unsqueeze(0) - rho.unsqueeze(1)) / width) ** 2)
    return bump.unsqueeze(1).expand(num_master, num_heads, num_rbf).reshape(-1, num_rbf).to(torch.get_default_dtype())


class RangeBlock(nn.Module):
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

    ``form='paper'`` is exactly the above, with lambda_I, a_I, b_I starting equal for every I.
    ``form='v2'`` (docs/architecture.md, "RANGE v2") breaks the symmetry between the master
    nodes and adds residual paths:

    * each master node has its own positional term and attention vector in the score, and a
      linear positional preference ``c_I . E_i`` that starts at a distinct radial shell
      (master 1 at the centre, master M at the surface),
      ``alpha_iI = a_I . LeakyReLU(A_Q H_I + A_K h_i + A_E^I E_i) + c_I^l . E_i``;
    * the master state is carried, ``H_I' = H_I + sigma(...)``;
    * the atom update is residual, ``h_i' = h_i + MLP(...)``, with the MLP's last layer
      zero at initialisation, so the block starts as the identity on the atoms;
    * lambda_I, a_I, b_I start at distinct values.
    """

    ATOM_PROJ = ("agg_k", "agg_v", "bc_q", "bc_k_self", "bc_v_self")

    def __init__(self, hidden: int, num_heads: int, num_master_nodes: int, num_pos_rbf: int = 7,
                 act: str = "tanh", negative_slope: float = 0.2, score_act: str = "leaky_relu",
                 form: str = "paper"):
        super().__init__()
        if hidden % num_heads != 0:
            raise ValueError(f"hidden_channels ({hidden}) must be divisible by num_heads ({num_heads})")
        if num_master_nodes < 1:
            raise ValueError(f"num_master_nodes must be >= 1, got {num_master_nodes}")
        if form not in RANGE_FORMS:
            raise ValueError(f"range_form must be one of {list(RANGE_FORMS)}, got {form!r}")
        self.hidden = hidden
        self.heads = num_heads
        self.head_dim = hidden // num_heads
        self.num_master = num_master_nodes
        self.residual = form == "v2"
        L, d, M = num_heads, self.head_dim, num_master_nodes
        # v2: one positional projection and attention vector per master node; paper: one shared
        self.num_agg_e = M if self.residual else 1
        self.leaky = attention_activation(score_act, negative_slope)
        # Projections of the atom features (A_K, A_V, B_Q, B_Kself, B_Vself) and of the positional
        # encoding (A_E [per master in v2], B_E) are each computed with one matrix multiply;
        # ATOM_PROJ names the row blocks. Only A_Q and B_Q carry a bias (one bias per sum suffices).
        self.atom_proj = nn.Linear(hidden, len(self.ATOM_PROJ) * hidden, bias=False)
        self.pos_score_row = (self.num_agg_e + 1) * hidden
        self.pos_proj = nn.Linear(num_pos_rbf, self.pos_score_row + (M * L if self.residual else 0), bias=False)
        self.bc_q_bias = nn.Parameter(torch.zeros(hidden))
        # aggregation
        self.agg_q = nn.Linear(hidden, hidden)
        a_shape = (M, L, d) if self.residual else (L, d)
        self.agg_a = nn.Parameter(torch.randn(a_shape) / d**0.5)
        # v2: a positional score term per master and head, added to alpha_iI outside the activation;
        # it starts as a bump on the radial basis centred at rho_I = I / (M - 1), so that master 1
        # starts attending near the centre and master M near the surface of the molecule
        # (the last M * L rows of pos_proj, so that one matrix multiply gives every positional term)
        if self.residual:
            with torch.no_grad():
                self.pos_proj.weight[self.pos_score_row:] = _radial_preference(M, L, num_pos_rbf)
        self.agg_act = activation(act)
        # broadcast
        self.bc_k = nn.Parameter(torch.randn(L, d, d) / d**0.5)
        self.bc_v = nn.Parameter(torch.randn(L, d, d) / d**0.5)
        self.bc_b = nn.Parameter(torch.randn(L, d) / d**0.5)
        self.mix = MLP([hidden, hidden, hidden], act)
        if self.residual:
            nn.init.zeros_(self.mix[-1].weight)
            nn.init.zeros_(self.mix[-1].bias)
        # regulariser parameters for master nodes 2..M (lambda_1 = 1 is fixed); v2 spreads them
        extra = M - 1
        if self.residual and extra:
            lam, a, b = _spread(0.9, 0.6, extra), _spread(0.1, 0.4, extra), _spread(1.0, 0.4, extra)
        else:
            lam, a, b = (torch.full((extra,), v, dtype=torch.float64) for v in (0.9, 0.1, 1.0))
        dtype = torch.get_default_dtype()  # like every other parameter of the model
        self.lambda_raw = nn.Parameter(torch.log(lam / (1 - lam)).to(dtype))
        self.a_raw = nn.Parameter(torch.log(torch.expm1(a)).to(dtype))
        self.b_raw = nn.Parameter(torch.log(torch.expm1(b)).to(dtype))

    def projection_weight(self, name: str) -> torch.Tensor:
        """The (h, h) or (h, f) matrix of one named projection (for inspection and tests).

        Names: ``ATOM_PROJ``, ``'bc_e'``, and ``'agg_e'`` (paper form) or ``'agg_e<I>'`` (v2,
        master node I counted from 0). The v2 positional scores c_I are ``positional_scores()``."""
        h = self.hidden
        if name in self.ATOM_PROJ:
            k = self.ATOM_PROJ.index(name)
            return self.atom_proj.weight[k * h:(k + 1) * h]
        pos_names = ["agg_e"] if not self.residual else [f"agg_e{i}" for i in range(self.num_master)]
        pos_names.append("bc_e")
        if name not in pos_names:
            raise ValueError(f"unknown projection {name!r}; accepted: {list(self.ATOM_PROJ) + pos_names}")
        k = pos_names.index(name)
        return self.pos_proj.weight[k * h:(k + 1) * h]

    def positional_scores(self) -> torch.Tensor:
        """(M, L, f) weights c_I^l of the v2 positional score term (empty for the paper form)."""
        return self.pos_proj.weight[self.pos_score_row:].reshape(-1, self.heads, self.pos_proj.in_features)

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
    def attention(self, s: torch.Tensor, master: torch.Tensor, pos_rbf: torch.Tensor, batch: torch.Tensor,
                  num_graphs: int, size_n: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The block with its attention weights.

        Args:
            s: (N, h) atom scalar features after the local update.
            master: (B, M, h) master-node states from the previous layer.
            pos_rbf: (N, f) positional encoding E_i.
            batch: (N,) graph index of each atom.
            num_graphs: B.
            size_n: (B,) normalised graph sizes n.
        Returns:
            new atom features (N, h), new master states (B, M, h), aggregation weights
            (N, M, L) (each master's softmax over its graph's atoms) and broadcast weights
            (N, 1 + M, L) (self-loop first; the master columns already scaled by Lambda_I(n)).
        """
        N = s.shape[0]
        M, L, d = self.num_master, self.heads, self.head_dim
        agg_k, agg_v, bc_q, bc_k_self, bc_v_self = torch.split(self.atom_proj(s), self.hidden, dim=-1)
        pos = self.pos_proj(pos_rbf)
        agg_e = pos[:, :self.num_agg_e * self.hidden]
        bc_e = pos[:, self.num_agg_e * self.hidden:self.pos_score_row]
        # aggregation: atoms -> master nodes
        q = self.agg_q(master).view(num_graphs, M, L, d)
        k = agg_k.view(N, 1, L, d) + agg_e.view(N, self.num_agg_e, L, d)
        alpha = (self.leaky(gather_segments(q, batch, num_graphs) + k) * self.agg_a).sum(-1)
        if self.residual:
            alpha = alpha + pos[:, self.pos_score_row:].reshape(N, M, L)
        alpha = segment_softmax(alpha, batch, num_graphs)
        values = agg_v.reshape(N, 1, L, d)
        update = self.agg_act(segment_sum(alpha.unsqueeze(-1) * values, batch, num_graphs))
        new_master = master.reshape(num_graphs, M, L, d) + update if self.residual else update
        # broadcast: master nodes + self-loop -> atoms; the self-loop is column 0 of one (N, 1 + M, L, d)
        # set of keys and values, so one activation, one softmax and one weighted sum serve all
        qb = (bc_q + self.bc_q_bias).view(N, 1, L, d)
        keys = gather_segments(torch.einsum("lde,bmle->bmld", self.bc_k, new_master), batch, num_graphs)
        keys = torch.cat([bc_k_self.view(N, 1, L, d), keys + bc_e.view(N, 1, L, d)], dim=1)
        beta = torch.softmax((self.leaky(qb + keys) * self.bc_b).sum(-1), dim=1)  # (N, 1 + M, L)
        scale = self.master_scale(size_n)
        scale = torch.cat([torch.ones_like(scale[:, :1]), scale], dim=1)  # the self-loop is never scaled
        weights = beta * gather_segments(scale, batch, num_graphs).unsqueeze(-1)
        vals = gather_segments(torch.einsum("lde,bmle->bmld", self.bc_v, new_master), batch, num_graphs)
        vals = torch.cat([bc_v_self.view(N, 1, L, d), vals], dim=1)
        out = (weights.unsqueeze(-1) * vals).sum(1)
        new_s = self.mix(out.reshape(N, self.hidden))
        if self.residual:
            new_s = s + new_s
        return new_s, new_master.reshape(num_graphs, M, self.hidden), alpha, weights

    def forward(self, s: torch.Tensor, master: torch.Tensor, pos_rbf: torch.Tensor, batch: torch.Tensor,
                num_graphs: int, size_n: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """New atom features (N, h) and master states (B, M, h); arguments as :meth:`attention`."""
        new_s, new_master, _, _ = self.attention(s, master, pos_rbf, batch, num_graphs, size_n)
        return new_s, new_master
