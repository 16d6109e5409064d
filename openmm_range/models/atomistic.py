"""The assembled potential: base representation (+ optional RANGE blocks) + readout."""
from typing import Dict, Optional, Tuple

import torch
from torch import nn

from ..elements import symbol
from ..neighbors import neighbor_pairs
from ..nn import AtomwiseReadout, CosineCutoff, GaussianRBF, RangeBlock
from ..nn.long_range import LongRangeHead
from ..nn.range_block import gather_segments, segment_sum
from .config import ModelConfig


class Layer(nn.Module):
    """One interaction: the base model's local update, then (RANGE models) the RANGE block."""

    def __init__(self, local: nn.Module, range_block: Optional[RangeBlock]):
        super().__init__()
        self.local = local
        self.range_block = range_block

    def forward(self, s: torch.Tensor, v: torch.Tensor, master: torch.Tensor, edge_src: torch.Tensor,
                edge_dst: torch.Tensor, rbf: torch.Tensor, fcut: torch.Tensor, unit: torch.Tensor,
                pos_rbf: torch.Tensor, batch: torch.Tensor, num_graphs: int,
                size_n: torch.Tensor, both_ways: bool) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        s, v = self.local(s, v, edge_src, edge_dst, rbf, fcut, unit, both_ways)
        if self.range_block is not None:
            s, master = self.range_block(s, master, pos_rbf, batch, num_graphs, size_n)
        return s, v, master


def initial_master_states(num_master: int, hidden: int, form: str) -> torch.Tensor:
    """H^(0), (M, h). Paper form: ``0.1 randn`` rows, which the first block washes out (the
    masters then differ only through tiny queries). v2: orthogonal rows of norm sqrt(h) (entries
    of order 1, like the atom features), so each master starts with its own query."""
    if form == "paper":
        return torch.randn(num_master, hidden) * 0.1
    rows = torch.empty(num_master, hidden)
    nn.init.orthogonal_(rows)
    return rows * hidden**0.5


def master_distances(pos: torch.Tensor, batch: torch.Tensor, num_graphs: int, smooth_width: float) -> torch.Tensor:
    """RANGE positional encoding input: ``r_i = |x_i - X_M| / D`` in [0, 1].

    ``X_M`` is the geometric centre of atom i's graph. The paper takes ``D = max_j |x_j - X_M|``;
    that maximum has a kink whenever another atom becomes the farthest, so forces jump and
    NVE dynamics does not conserve energy. With ``smooth_width = w > 0`` (Å) we use the smooth
    maximum ``D = w log sum_j exp(|x_j - X_M| / w)``, which is >= the maximum (so r_i < 1),
    exceeds it by at most ``w log N``, and has continuous derivatives of every order.
    ``smooth_width = 0`` gives the paper's hard maximum. A tiny epsilon inside the square
    root keeps the gradient finite for an atom sitting exactly at the centre.

    Shapes: pos (N, 3) Å; batch (N,). Returns (N,).
    """
    ones = torch.ones(pos.shape[0], 1, dtype=pos.dtype, device=pos.device)
    centre = segment_sum(pos, batch, num_graphs) / segment_sum(ones, batch, num_graphs)
    diff = pos - gather_segments(centre, batch, num_graphs)
    dist = torch.sqrt((diff * diff).sum(-1) + 1e-12)
    peak = torch.zeros(num_graphs, dtype=pos.dtype, device=pos.device)
    peak = peak.scatter_reduce(0, batch, dist.detach(), reduce="amax", include_self=True) if num_graphs > 1 \
        else dist.detach().max().reshape(1)
    if smooth_width > 0:
        # log-sum-exp, shifted by the (detached) maximum for numerical safety
        expo = torch.exp((dist - gather_segments(peak, batch, num_graphs)) / smooth_width)
        scale = peak + smooth_width * torch.log(segment_sum(expo, batch, num_graphs))
    elif num_graphs == 1:
        scale = dist.max().reshape(1)
    else:
        scale = torch.zeros(num_graphs, dtype=pos.dtype, device=pos.device)
        scale = scale.scatter_reduce(0, batch, dist, reduce="amax", include_self=True)
    return dist / gather_segments(scale, batch, num_graphs)


class AtomisticModel(nn.Module):
    """Energy model ``E = sum_i E_i`` (eV) of positions (Å) and elements.

    Built by :func:`openmm_range.create_model`; the architecture is chosen by the config's
    name (see ``openmm_range.registry``). ``forward`` is the eager, batched convenience
    entry (it builds the neighbour list); ``energy_from_edges`` is the TorchScript-able core
    used by both training and export, so both paths give the same numbers.
    """

    __jit_ignored_attributes__ = ["config", "metadata"]

    def __init__(self, config: ModelConfig, representation: nn.Module):
        super().__init__()
        self.config = config
        self.metadata: Dict[str, object] = {}
        self.cutoff = config.cutoff
        self.representation = representation
        self.rbf = GaussianRBF(representation.num_rbf, config.cutoff)
        self.fcut = CosineCutoff(config.cutoff)
        self.use_range = config.uses_range
        blocks = [RangeBlock(config.hidden_channels, config.num_heads, config.num_master_nodes,
                             config.num_master_rbf, config.activation,
                             score_act=config.attention_activation, form=config.range_form)
                  if self.use_range else None
                  for _ in range(config.num_interactions)]
        self.layers = nn.ModuleList([Layer(local, block) for local, block in zip(representation.local_layers, blocks)])
        self.num_master = config.num_master_nodes if self.use_range else 1
        self.master_init = nn.Parameter(initial_master_states(self.num_master, config.hidden_channels,
                                                              config.range_form), requires_grad=self.use_range)
        # master nodes per molecule (not per structure): far-apart molecules are then exactly additive
        self.per_molecule = config.range_scope == "molecule"
        # the molecule's total charge (e) enters its initial master states: H0_I + Q charge_embed_I
        self.use_charge = self.use_range and self.per_molecule
        if self.use_charge:
            self.charge_embed = nn.Parameter(torch.zeros(self.num_master, config.hidden_channels))
        else:  # not a parameter, and not in the state dict (files of models without it stay loadable)
            self.register_buffer("charge_embed", torch.zeros(self.num_master, config.hidden_channels),
                                 persistent=False)
        self.use_long_range = config.long_range != "none"
        self.long_range = LongRangeHead(config.hidden_channels, config.activation, config.coulomb_softening,
                                        config.dispersion_radius) if self.use_long_range else None
        self.pos_rbf = GaussianRBF(config.num_master_rbf, 1.0)
        self.master_smooth_width = float(config.master_smooth_width)
        self.readout = AtomwiseReadout(config.hidden_channels, len(config.elements), list(config.readout_layers),
                                       config.activation)
        z_to_type = torch.full((119,), -1, dtype=torch.long)
        for k, z in enumerate(config.elements):
            z_to_type[z] = k
        self.register_buffer("z_to_type", z_to_type)
        self.n_min = float(config.n_min) if config.n_min is not None else 0.0
        self.n_max = float(config.n_max) if config.n_max is not None else 0.0

    # -- bookkeeping -------------------------------------------------------------------
    def set_size_range(self, n_min: int, n_max: int) -> None:
        """Store the smallest/largest training-set molecule sizes (atoms) used by Lambda_I(n)."""
        if not 1 <= n_min <= n_max:
            raise ValueError(f"need 1 <= n_min <= n_max, got n_min={n_min}, n_max={n_max}")
        self.config.n_min, self.config.n_max = int(n_min), int(n_max)
        self.n_min, self.n_max = float(n_min), float(n_max)

    @torch.jit.unused
    def types_from_z(self, z: torch.Tensor) -> torch.Tensor:
        """Map atomic numbers (N,) to element indices; ValueError for an unsupported element."""
        z = torch.as_tensor(z, dtype=torch.long, device=self.z_to_type.device)
        if z.dim() != 1:
            raise ValueError(f"atomic numbers must be a 1-D sequence, got shape {tuple(z.shape)}")
        bad = (z < 1) | (z > 118)
        types = self.z_to_type[torch.clamp(z, 0, 118)]
        bad |= types < 0
        if bool(bad.any()):
            i = int(torch.nonzero(bad)[0])
            allowed = ", ".join(symbol(e) for e in self.config.elements)
            raise ValueError(f"atom {i} has element {symbol(int(z[i]))} (Z={int(z[i])}), which this "
                             f"{self.config.name} model does not support; supported elements: {allowed}")
        return types

    def normalised_size(self, counts: torch.Tensor) -> torch.Tensor:
        """n = (N - N_min) / (N_max - N_min); n = 0 when N_max == N_min (single-size training set)."""
        if self.n_max > self.n_min:
            return (counts - self.n_min) / (self.n_max - self.n_min)
        return torch.zeros_like(counts)

    def regularization(self) -> torch.Tensor:
        """Sum over RANGE blocks and master nodes I > 1 of |lambda_I + a_I + b_I| (L_reg / delta)."""
        total = torch.zeros((), dtype=self.master_init.dtype, device=self.master_init.device)
        for layer in self.layers:
            if layer.range_block is not None:
                total = total + layer.range_block.regularization()
        return total

    # -- core --------------------------------------------------------------------------
    def energy_from_edges(self, types: torch.Tensor, pos: torch.Tensor, batch: torch.Tensor, num_graphs: int,
                          edge_src: torch.Tensor, edge_dst: torch.Tensor, edge_vec: torch.Tensor,
                          centre_pos: torch.Tensor, group: torch.Tensor, num_groups: int,
                          group_charge: torch.Tensor, inter_src: torch.Tensor, inter_dst: torch.Tensor,
                          inter_vec: torch.Tensor, switch_off: Optional[torch.Tensor],
                          both_ways: bool = False) -> torch.Tensor:
        """Energies (B,) in eV.

        Args:
            types: (N,) element indices. pos: (N, 3) Å (only used through edge_vec, centre_pos
            and inter_vec, which must be derived from it for forces). batch: (N,) structure index.
            edge_src, edge_dst: (E,) pairs (message j -> i). edge_vec: (E, 3) Å, from i to j;
            pairs at or beyond the cutoff contribute exactly zero (padding). ``both_ways``: each
            unordered pair is listed once and carries messages in both directions (the filters
            are computed once per pair, about half the cost of listing both directions).
            centre_pos: (N, 3) Å positions used for the master-node encoding (each molecule
            made whole under periodic boundaries; otherwise ``pos``).
            group: (N,) molecule index over the whole batch (G molecules, sorted by structure);
            group_charge: (G,) total charge of each molecule, e.
            inter_src, inter_dst: (P,) atom pairs of different molecules of one structure;
            inter_vec: (P, 3) Å from inter_dst to inter_src (minimum image if periodic);
            switch_off: smooth cut-off (Å, 0-d) of the long-range head under periodic boundaries, None
            for open ones (see nn/long_range.py and :func:`default_switch_off`).
        """
        r = torch.sqrt((edge_vec * edge_vec).sum(-1))
        unit = edge_vec / r.unsqueeze(-1)
        rbf = self.rbf(r)
        fcut = self.fcut(r)
        s, v = self.representation.embed(types)
        scope, num_scope = (group, num_groups) if self.per_molecule else (batch, num_graphs)
        ones = torch.ones(types.shape[0], dtype=pos.dtype, device=pos.device)
        size_n = self.normalised_size(segment_sum(ones, scope, num_scope))
        if self.use_range:
            pos_rbf = self.pos_rbf(master_distances(centre_pos, scope, num_scope, self.master_smooth_width))
        else:
            pos_rbf = torch.zeros(0, dtype=pos.dtype, device=pos.device)
        master = self.master_init.unsqueeze(0).expand(num_scope, self.num_master, self.master_init.shape[1])
        if self.use_charge:
            master = master + group_charge.to(pos.dtype).view(-1, 1, 1) * self.charge_embed.unsqueeze(0)
        for layer in self.layers:
            s, v, master = layer(s, v, master, edge_src, edge_dst, rbf, fcut, unit, pos_rbf, scope, num_scope, size_n,
                                 both_ways)
        energy = segment_sum(self.readout(s, types), batch, num_graphs)
        if self.long_range is not None:
            pair, _ = self.long_range(s, group, num_groups, group_charge, inter_src, inter_dst, inter_vec, switch_off)
            energy = energy + segment_sum(pair, batch[inter_src], num_graphs)
        return energy

    @torch.jit.unused
    @property
    def reads_charge(self) -> bool:
        """Whether a molecule's total charge changes the energy (RANGE's per-molecule master nodes,
        or the long-range head's charges); a model without either ignores it."""
        return bool(self.use_charge or self.use_long_range)

    def check_charges(self, charges: torch.Tensor) -> None:
        """ValueError unless every molecular charge (e) was seen in training (``config.charges``)."""
        from .config import check_molecule_charges

        check_molecule_charges(torch.as_tensor(charges).reshape(-1).tolist(), self.config.accepted_charges,
                               f"this {self.config.name} model")

    # -- eager convenience -------------------------------------------------------------
    @torch.jit.unused
    def forward(self, z: torch.Tensor, pos: torch.Tensor, batch: Optional[torch.Tensor] = None,
                box: Optional[torch.Tensor] = None, molecules: Optional[torch.Tensor] = None,
                charges: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Energies (B,) in eV for atomic numbers ``z`` (N,) and positions ``pos`` (N, 3) in Å.

        ``batch`` (N,) assigns atoms to structures (sorted); ``box`` (3, 3) or (B, 3, 3) Å
        makes the system periodic (minimum image; molecules are made whole for RANGE).
        ``molecules`` (N,): which molecule of its structure each atom belongs to (default:
        each structure is one molecule); see :func:`molecules_from_bonds`. ``charges``: total
        charge (e) of each molecule, (G,) in the order (structure, molecule id); default 0.
        """
        from ..validation import check_positions

        check_positions(pos, "pos")
        types = self.types_from_z(z)
        if types.shape[0] != pos.shape[0]:
            raise ValueError(f"got {types.shape[0]} atomic numbers but {pos.shape[0]} positions")
        if batch is None:
            batch = torch.zeros(pos.shape[0], dtype=torch.long, device=pos.device)
        num_graphs = int(batch.max()) + 1
        group, num_groups, first = molecule_groups(batch, molecules)
        if charges is None:
            group_charge = torch.zeros(num_groups, dtype=pos.dtype, device=pos.device)
        else:
            group_charge = torch.as_tensor(charges, device=pos.device).reshape(-1)
            if group_charge.shape[0] != num_groups:
                raise ValueError(f"charges must hold one total charge per molecule ({num_groups}), "
                                 f"got {group_charge.shape[0]}")
            self.check_charges(group_charge)
            group_charge = group_charge.to(pos.dtype)
        edge_index, shift = neighbor_pairs(pos, self.cutoff, batch, box)
        once = edge_index[0] < edge_index[1]  # every pair is listed both ways: keep one, messages go both ways
        edge_index, shift = edge_index[:, once], shift[once]
        vec = pos[edge_index[0]] - pos[edge_index[1]] + shift
        scope, num_scope = (group, num_groups) if self.per_molecule else (batch, num_graphs)
        inter_src, inter_dst = intermolecular_pairs(batch, group)
        inter_vec = pos[inter_src] - pos[inter_dst]
        centre, switch_off = pos, None
        if box is not None:
            from ..neighbors import box_widths, minimum_image

            boxes = box if box.dim() == 3 else box.unsqueeze(0).expand(num_graphs, 3, 3)
            scope_box = boxes if not self.per_molecule else boxes[batch[first]]
            centre = make_whole(pos, scope, num_scope, scope_box)
            for b in range(num_graphs):  # minimum images of the intermolecular pairs, structure by structure
                sel = batch[inter_src] == b
                inter_vec[sel] = minimum_image(inter_vec[sel], boxes[b])
            # each pair switched off by its own structure's box (one structure's energy must not
            # depend on what else is in the batch)
            widths = torch.stack([box_widths(b).min() for b in boxes])
            switch_off = default_switch_off(widths)[batch[inter_src]]
        return self.energy_from_edges(types, pos, batch, num_graphs, edge_index[0], edge_index[1], vec, centre,
                                      group, num_groups, group_charge, inter_src, inter_dst, inter_vec, switch_off,
                                      both_ways=True)

    @torch.jit.unused
    def energy_and_forces(self, z: torch.Tensor, pos: torch.Tensor, batch: Optional[torch.Tensor] = None,
                          box: Optional[torch.Tensor] = None, create_graph: bool = False,
                          molecules: Optional[torch.Tensor] = None, charges: Optional[torch.Tensor] = None):
        """Energies (B,) eV and forces (N, 3) eV/Å = -dE/dpos (arguments as :meth:`forward`)."""
        if not pos.requires_grad:
            pos = pos.detach().requires_grad_(True)
        energy = self.forward(z, pos, batch, box, molecules, charges)
        (grad,) = torch.autograd.grad(energy.sum(), pos, create_graph=create_graph)
        return energy, -grad


#: the long-range head's smooth cut-off under periodic boundaries, as a fraction of the smallest
#: box width: below 0.5 so that minimum images stay exact when a barostat shrinks the box by < 10 %
SWITCH_OFF_BOX_FRACTION = 0.45


def default_switch_off(min_box_width: torch.Tensor) -> torch.Tensor:
    """Smooth cut-off (Å, 0-d) of the intermolecular head in a periodic box whose smallest width is given (Å)."""
    return 0.45 * min_box_width  # SWITCH_OFF_BOX_FRACTION (TorchScript cannot read module globals)


def molecule_groups(batch: torch.Tensor, molecules: Optional[torch.Tensor]) -> Tuple[torch.Tensor, int, torch.Tensor]:
    """``(group (N,), G, first (G,))``: a batch-wide molecule index for every atom, sorted by
    (structure, molecule id), the number of molecules and the first atom of each.

    ``molecules`` (N,) numbers the molecules within each structure (None: one per structure).
    """
    if molecules is None:
        key = batch
    else:
        molecules = torch.as_tensor(molecules, dtype=torch.long, device=batch.device).reshape(-1)
        if molecules.shape[0] != batch.shape[0]:
            raise ValueError(f"molecules must give one molecule index per atom ({batch.shape[0]}), "
                             f"got {molecules.shape[0]}")
        if bool((molecules < 0).any()):
            raise ValueError("molecules must hold non-negative molecule indices")
        key = batch * (int(molecules.max()) + 1) + molecules
    _, group = torch.unique(key, return_inverse=True)
    num_groups = int(group.max()) + 1
    first = torch.full((num_groups,), batch.shape[0], dtype=torch.long, device=batch.device)
    first = first.scatter_reduce(0, group, torch.arange(batch.shape[0], device=batch.device), reduce="amin")
    return group, num_groups, first


def intermolecular_pairs(batch: torch.Tensor, group: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """All atom pairs (i < j) of one structure that lie in different molecules: ``(src (P,), dst (P,))``."""
    empty = torch.zeros(0, dtype=torch.long, device=batch.device)
    if batch.numel() == 0 or int(group.max()) + 1 == torch.unique(batch).numel():  # one molecule per structure
        return empty, empty
    src, dst = [], []
    for b in torch.unique(batch).tolist():
        atoms = torch.nonzero(batch == b).reshape(-1)
        g = group[atoms]
        if bool((g == g[0]).all()):
            continue
        i, j = torch.triu_indices(atoms.shape[0], atoms.shape[0], offset=1, device=batch.device)
        keep = g[i] != g[j]
        src.append(atoms[i[keep]])
        dst.append(atoms[j[keep]])
    if not src:
        return empty, empty
    return torch.cat(src), torch.cat(dst)


def make_whole(pos: torch.Tensor, batch: torch.Tensor, num_graphs: int, box: torch.Tensor) -> torch.Tensor:
    """Positions with each segment of ``batch`` (a structure or a molecule; its atoms need not be
    contiguous) made whole by minimum image relative to its first atom; ``box`` (3, 3) or one
    per segment (num_graphs, 3, 3) Å (reduced triclinic). ValueError if an atom lies more than
    0.45 box widths from that first atom along a box vector: near half a box the minimum image
    flips, and the segment's centre with it (the exported module, which knows the bonds, makes
    molecules whole along them instead, and refuses the same case without them)."""
    from ..neighbors import fractional, minimum_image

    boxes = box if box.dim() == 3 else box.unsqueeze(0).expand(num_graphs, 3, 3)
    out = pos.clone()
    for g in range(num_graphs):
        sel = torch.nonzero(batch == g).reshape(-1)
        anchor = pos[sel[0]]
        wrapped = minimum_image(pos[sel] - anchor, boxes[g])
        if bool((fractional(wrapped, boxes[g]).abs() > 0.45).any()):
            raise ValueError(f"a molecule (or structure) of {sel.numel()} atoms spans more than 0.45 box widths "
                             f"from its first atom: it cannot be made whole by minimum image; use a larger box "
                             f"(or the exported model, which makes molecules whole along their bonds)")
        out[sel] = anchor + wrapped
    return out
