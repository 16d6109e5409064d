"""Positions-only TorchScript modules for OpenMM (openmm-torch TorchForce or PythonForce).

An exported module is specialised to one list of atoms (their elements are fixed at
export) and follows openmm-torch's conventions:

* ``forward(positions)`` or ``forward(positions, box)``: positions (N, 3) in **nm**,
  float32 or float64; box (3, 3) in nm, rows = box vectors (OpenMM reduced form).
* returns the potential energy in **kJ/mol** (0-d float64 tensor: the per-element shifts are
  summed in float64, so a float32 model keeps its energy differences in large ML regions), or
  ``(energy, forces)`` with forces in kJ/mol/nm (dtype of ``positions``) when exported with
  ``return_forces=True``.

The module converts nm -> Å and eV -> kJ/mol at its boundary (``openmm_range.units``)
and, on CUDA devices, uses static-shape neighbour lists, so it has no
data-dependent shapes there (on CPUs exact pairs are faster; see
``export(static_shapes=...)``). From ``CELL_LIST_MIN_ATOMS`` atoms on, the neighbours come
from an O(N) cell list instead of an all-pairs search (``export(neighbor_search=...)``). With
``check_errors=True`` (default) it raises on NaN positions, too-small boxes and
neighbour-capacity overflow (these checks read values on the host); with
``check_errors=False`` nothing synchronises with the host and the forward/backward can be
captured in a CUDA graph: a capacity overflow or a too-small box then turns the energy into
NaN instead of silently dropping pairs.
"""
import copy
import json
import math
from typing import Optional, Sequence, Tuple

import torch
from torch import nn

from ..models.atomistic import AtomisticModel, default_switch_off, intermolecular_pairs, molecule_groups
from ..neighbors import (box_widths, cell_list_neighbors, exact_pairs_single, fractional, minimum_image,
                         padded_neighbors)
from ..units import ANGSTROM_PER_NM, KJ_PER_MOL_PER_EV

#: Atom number density (atoms/Å^3) assumed when sizing the neighbour capacity: 1.5x liquid water.
_DENSITY = 0.15
#: ``neighbor_search='auto'`` uses the O(N) cell list from this many atoms on (below it the
#: all-pairs searches are faster; benchmarks/model_scaling.py --neighbor-crossover measures it)
CELL_LIST_MIN_ATOMS = 2000
NEIGHBOR_SEARCHES = ("auto", "all-pairs", "cell-list")


def default_max_neighbors(n_atoms: int, cutoff: float) -> int:
    """Neighbour slots per atom: enough for 1.5x liquid-water density in the cutoff sphere, at most N - 1."""
    estimate = int(math.ceil(_DENSITY * 4.0 / 3.0 * math.pi * cutoff**3)) + 16
    return max(1, min(n_atoms - 1, estimate)) if n_atoms > 1 else 1


class ExportedModel(nn.Module):
    """Energy of one fixed set of atoms: ``forward(positions_nm, box_nm=None) -> E (kJ/mol)``."""

    def __init__(self, model: AtomisticModel, types: torch.Tensor, periodic: bool, max_neighbors: int,
                 check_errors: bool, metadata_json: str, static_shapes: Optional[bool] = None,
                 cell_list: bool = False, molecules: Optional[torch.Tensor] = None,
                 charges: Optional[torch.Tensor] = None, bonds: Sequence[Tuple[int, int]] = ()):
        super().__init__()
        # the per-element energy shifts of these fixed atoms, summed once in float64 (in float32 a
        # total of 1e5 eV, 1,000 waters, would be resolved only to 0.016 eV): the model then adds
        # only its residual atomic energies, of order 1 eV each
        self.shift_total = float(model.readout.shift.detach().double()[types].sum())
        with torch.no_grad():
            model.readout.shift.zero_()
        self.model = model
        self.register_buffer("types", types)
        self.register_buffer("batch", torch.zeros_like(types))
        # molecules are fixed at export (OpenMM: from the topology's bonds), so are every
        # per-molecule index and the list of intermolecular pairs: static shapes throughout
        group, num_groups, first = molecule_groups(self.batch, molecules)
        self.register_buffer("group", group)
        self.register_buffer("first", first)
        self.num_groups = num_groups
        dtype = model.master_init.dtype
        self.register_buffer("group_charge", torch.zeros(num_groups, dtype=dtype) if charges is None
                             else charges.to(dtype))
        # periodic boxes: how each RANGE unit (a molecule, or the whole set) is made whole, along its
        # bonds (see unwrap_paths); the anchor is the unit's first atom
        unit_anchor = first[group] if model.per_molecule else first[:1].expand(types.shape[0])
        root, tree_child, tree_parent, path_atom, path_edge = unwrap_paths(
            unit_anchor.tolist(), [(int(a), int(b)) for a, b in bonds])
        for name, value in (("unit_anchor", unit_anchor.clone()), ("root", root), ("tree_child", tree_child),
                            ("tree_parent", tree_parent), ("path_atom", path_atom), ("path_edge", path_edge)):
            self.register_buffer(name, value)
        inter_src, inter_dst = intermolecular_pairs(self.batch, group) if model.long_range is not None \
            else (torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long))
        self.register_buffer("inter_src", inter_src)
        self.register_buffer("inter_dst", inter_dst)
        self.periodic = periodic
        self.cutoff = model.cutoff
        self.max_neighbors = max_neighbors
        self.check_errors = check_errors
        # 0: static shapes on CUDA devices (graph capture), exact pairs elsewhere; 1: always static; 2: never
        self.shape_mode = 0 if static_shapes is None else (1 if static_shapes else 2)
        # the O(N) cell list instead of an all-pairs search (static or exact pairs as for all-pairs)
        self.cell_list = cell_list
        self.length_scale = ANGSTROM_PER_NM
        self.energy_scale = KJ_PER_MOL_PER_EV
        self.metadata_json = metadata_json

    def energy(self, positions: torch.Tensor, box: Optional[torch.Tensor]) -> torch.Tensor:
        n = self.types.shape[0]
        if positions.dim() != 2 or positions.shape[0] != n or positions.shape[1] != 3:
            raise ValueError("positions must have shape (" + str(n) + ", 3) in nm")
        pos = positions.to(self.model.master_init.dtype) * self.length_scale
        if self.check_errors and not bool(torch.isfinite(pos).all()):
            raise ValueError("positions contain NaN or inf")
        cell: Optional[torch.Tensor] = None
        if self.periodic:
            if box is None:
                raise ValueError("this module was exported with periodic=True: call forward(positions, box)")
            cell = box.to(pos.dtype) * self.length_scale
            if self.check_errors and bool(box_widths(cell).min() < 2.0 * self.cutoff):
                raise ValueError("the model cutoff is larger than half the smallest box width")
        static = self.shape_mode == 1 or (self.shape_mode == 0 and pos.is_cuda)
        if self.cell_list:
            src, dst, vec, lost = cell_list_neighbors(pos, self.cutoff, self.max_neighbors, cell, compact=not static)
            if not static:  # exact pairs: each pair once, messages both ways (half the pair work)
                once = src < dst
                src, dst, vec = src[once], dst[once], vec[once]
        elif static:
            src, dst, vec, lost = padded_neighbors(pos, self.cutoff, self.max_neighbors, cell)
        else:
            src, dst, vec = exact_pairs_single(pos, self.cutoff, cell, once=True)
            lost = torch.zeros((), dtype=torch.long, device=pos.device)
        if self.check_errors and bool(lost > 0):
            if self.cell_list:
                raise RuntimeError("cell-list neighbour search overflow: up to " + str(int(lost)) + " pairs inside "
                                   "the cutoff may be missing (more than max_neighbors=" + str(self.max_neighbors) +
                                   " neighbours, a crowded cell, or a periodic box narrower than 3 cutoffs); "
                                   "export again with a larger max_neighbors or neighbor_search='all-pairs'")
            raise RuntimeError("neighbour capacity overflow: " + str(int(lost)) + " pairs inside the cutoff "
                               "did not fit in max_neighbors=" + str(self.max_neighbors) +
                               "; export again with a larger max_neighbors")
        centre = pos
        inter_vec = pos.index_select(0, self.inter_src) - pos.index_select(0, self.inter_dst)
        switch_off: Optional[torch.Tensor] = None
        too_wide = torch.zeros((), dtype=torch.bool, device=pos.device)
        if cell is not None and self.model.use_range:
            # each unit made whole (for the master nodes' positions): every atom is its tree root's
            # minimum image relative to the unit's first atom plus the minimum-image bond vectors
            # on its path from that root
            anchor = pos.index_select(0, self.unit_anchor)
            to_root = minimum_image(pos.index_select(0, self.root) - anchor, cell)
            centre = anchor + to_root
            if self.tree_child.numel() > 0:
                bond = minimum_image(pos.index_select(0, self.tree_child) - pos.index_select(0, self.tree_parent), cell)
                centre = centre.index_add(0, self.path_atom, bond.index_select(0, self.path_edge))
            # a root more than 0.45 box widths from its anchor is near the half-box jump of the
            # minimum image: refused (NaN without error checks) rather than a silent energy jump
            too_wide = (fractional(to_root, cell).abs() > 0.45).any()
            if self.check_errors and bool(too_wide):
                raise RuntimeError("a molecule of the ML region spans more than 0.45 box widths from its first "
                                   "atom along no bonds, so it cannot be made whole by minimum image; export "
                                   "with bonds= (the OpenMM plugin passes the topology's), or use a larger box")
        if cell is not None:
            inter_vec = minimum_image(inter_vec, cell)
            switch_off = default_switch_off(box_widths(cell).min())
        energy = self.model.energy_from_edges(self.types, pos, self.batch, 1, src, dst, vec, centre, self.group,
                                              self.num_groups, self.group_charge, self.inter_src, self.inter_dst,
                                              inter_vec, switch_off, both_ways=not static)[0]
        bad = (lost > 0) | too_wide
        if cell is not None:  # a box narrower than two cutoffs (an NPT run shrinking it): no silent error either
            bad = bad | (box_widths(cell).min() < 2.0 * self.cutoff)
        energy = torch.where(bad, torch.full_like(energy, float("nan")), energy)
        return (energy.to(torch.float64) + self.shift_total) * self.energy_scale  # float64 kJ/mol

    def forward(self, positions: torch.Tensor, box: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self.energy(positions, box)


class ExportedModelWithForces(ExportedModel):
    """Like :class:`ExportedModel` but returns ``(energy kJ/mol, forces kJ/mol/nm)``."""

    def forward(self, positions: torch.Tensor, box: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        pos = positions.detach().requires_grad_(True)
        energy = self.energy(pos, box)
        grads = torch.autograd.grad([energy], [pos])
        grad = grads[0]
        assert grad is not None
        return energy.detach(), -grad


def unwrap_paths(anchor: Sequence[int], bonds: Sequence[Tuple[int, int]]):
    """How a periodic module makes each RANGE unit whole along its bonds.

    ``anchor``: (N,) the first atom of each atom's unit; ``bonds``: atom pairs (bonds across units
    are ignored). A breadth-first tree over each unit's bonds, from its first atom (atoms the bonds
    do not reach start trees of their own). Returns tensors ``root`` (N,): each atom's tree root;
    ``tree_child``, ``tree_parent`` (E,): the tree's bonds; ``path_atom``, ``path_edge`` (P,): atom
    ``path_atom[k]`` has bond ``path_edge[k]`` on its path from its root. An atom's whole position
    is then ``x_anchor + mic(x_root - x_anchor) + sum over its path of mic(x_child - x_parent)``,
    exact however far the unit reaches across the box (bonds are shorter than half a box). With
    no bonds every atom is its own root: the minimum image relative to the anchor."""
    n = len(anchor)
    neighbours = [[] for _ in range(n)]
    for a, b in bonds:
        if not (0 <= a < n and 0 <= b < n) or a == b:
            raise ValueError(f"bonds must join two different atoms among the {n}, got ({a}, {b})")
        if anchor[a] == anchor[b]:
            neighbours[a].append(b)
            neighbours[b].append(a)
    root, parent_edge, parent = list(range(n)), [-1] * n, [-1] * n
    child, par = [], []
    seen = [False] * n
    for start in sorted(set(anchor)) + list(range(n)):  # units' first atoms first, then what is left
        if seen[start]:
            continue
        seen[start], queue = True, [start]
        for i in queue:
            for j in neighbours[i]:
                if not seen[j]:
                    seen[j], root[j], parent[j], parent_edge[j] = True, start, i, len(child)
                    child.append(j)
                    par.append(i)
                    queue.append(j)
    path_atom, path_edge = [], []
    for i in range(n):
        j = i
        while parent[j] >= 0:
            path_atom.append(i)
            path_edge.append(parent_edge[j])
            j = parent[j]
    as_long = lambda values: torch.tensor(values, dtype=torch.long)  # noqa: E731
    return as_long(root), as_long(child), as_long(par), as_long(path_atom), as_long(path_edge)


#: an exported module whose long-range head would evaluate more atom pairs of different molecules
#: than this is refused (pair list and per-step vectors of several GB; about 4,500 atoms in small molecules)
MAX_INTERMOLECULAR_PAIRS = 10_000_000


def export(model: AtomisticModel, atomic_numbers: Sequence[int], periodic: bool = False,
           return_forces: bool = False, dtype: Optional[torch.dtype] = None,
           max_neighbors: Optional[int] = None, check_errors: bool = True,
           static_shapes: Optional[bool] = None, neighbor_search: str = "auto",
           molecules: Optional[Sequence[int]] = None, charges: Optional[Sequence[int]] = None,
           bonds: Optional[Sequence[Tuple[int, int]]] = None) -> torch.jit.ScriptModule:
    """Build the positions-only TorchScript module for ``atomic_numbers`` (atoms fixed here).

    Args:
        model: a model from :func:`openmm_range.create_model` / :func:`openmm_range.load_model`.
        atomic_numbers: (N,) elements of the atoms, in the order OpenMM will pass positions.
        periodic: the module takes ``(positions, box)`` and uses minimum-image neighbours;
            each molecule's master nodes sit at its centre, the molecule made whole along
            ``bonds`` (translation- and wrap-invariant).
        return_forces: also return forces (kJ/mol/nm), for TorchForce ``setOutputsForces``.
        dtype: compute precision (default: the model's); inputs of either float dtype are accepted.
        max_neighbors: neighbour slots per atom (default :func:`default_max_neighbors`).
        check_errors: see the module docstring (False for CUDA-graph capture).
        static_shapes: True: the padded neighbour list, no data-dependent shapes, CUDA-graph
            capturable. False: only the pairs inside the cutoff, each call (data-dependent
            shapes; 2-4x faster on CPUs for small molecules, where most padded slots would be
            empty). None (default): static on CUDA devices, exact pairs elsewhere, decided
            per call from the device of ``positions``.
        neighbor_search: 'cell-list': the O(N) cell list (time and memory linear in N);
            'all-pairs': an N x N search; 'auto' (default): the cell list from
            ``CELL_LIST_MIN_ATOMS`` atoms on. Either gives static or exact pairs as above.
        molecules: (N,) molecule id (0..G-1) of each atom, fixed for the module's lifetime
            (OpenMM: the topology's bonded components). Default: all atoms one molecule.
            Each molecule gets its own master nodes; the long-range head acts between them, on
            every atom pair of different molecules (more than ``MAX_INTERMOLECULAR_PAIRS`` refused).
        charges: (G,) total charge (e) of each molecule, by molecule id; default neutral.
            Only charges seen in training are accepted (``model.config.accepted_charges``).
        bonds: atom pairs (indices into ``atomic_numbers``) bonded in the topology. Periodic
            modules make each molecule whole along them (:func:`unwrap_paths`), so a molecule may
            reach across more than half the box; without them a molecule must stay within 0.45
            box widths of its first atom (checked each call).
    """
    if not isinstance(model, AtomisticModel):
        raise ValueError(f"export expects a model from openmm_range.create_model, got {type(model).__name__}")
    from ..serialization import model_metadata

    z = torch.as_tensor(list(atomic_numbers), dtype=torch.long)
    if z.numel() == 0:
        raise ValueError("atomic_numbers is empty: a molecule needs at least one atom")
    types = model.types_from_z(z).cpu()
    n = int(z.numel())
    k = default_max_neighbors(n, model.cutoff) if max_neighbors is None else int(max_neighbors)
    if not 1 <= k or (n > 1 and k > n - 1):
        raise ValueError(f"max_neighbors must be between 1 and N-1 = {max(n - 1, 1)}, got {max_neighbors}")
    frozen = copy.deepcopy(model).cpu().eval()
    if dtype is not None:
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        frozen = frozen.to(dtype)
    for p in frozen.parameters():
        p.requires_grad_(False)
    meta = model_metadata(model)
    meta.update({"atomic_numbers": z.tolist(), "periodic": periodic, "max_neighbors": k, "static_shapes": static_shapes,
                 "input_units": {"positions": "nm", "box": "nm"},
                 "output_units": {"energy": "kJ/mol", "forces": "kJ/mol/nm"}})
    if neighbor_search not in NEIGHBOR_SEARCHES:
        raise ValueError(f"neighbor_search must be one of {list(NEIGHBOR_SEARCHES)}, got {neighbor_search!r}")
    cell_list = neighbor_search == "cell-list" or (neighbor_search == "auto" and n >= CELL_LIST_MIN_ATOMS)
    meta["neighbor_search"] = "cell-list" if cell_list else "all-pairs"
    mol, charge = _molecule_inputs(model, n, molecules, charges)
    meta["molecule_charges"] = charge.tolist()
    cls = ExportedModelWithForces if return_forces else ExportedModel
    module = cls(frozen, types, periodic, k, check_errors, json.dumps(meta, sort_keys=True), static_shapes, cell_list,
                 mol, charge, list(bonds or ()) if periodic else [])
    return torch.jit.script(module)


def _molecule_inputs(model: AtomisticModel, n: int, molecules: Optional[Sequence[int]],
                     charges: Optional[Sequence[int]]) -> Tuple[torch.Tensor, torch.Tensor]:
    """Checked (molecule ids (N,), charges (G,)) for :func:`export`."""
    mol = torch.zeros(n, dtype=torch.long) if molecules is None else torch.as_tensor(list(molecules), dtype=torch.long)
    if mol.shape != (n,):
        raise ValueError(f"molecules must give one molecule id per atom ({n}), got {tuple(mol.shape)}")
    ids = torch.unique(mol)
    if ids.min() < 0 or not torch.equal(ids, torch.arange(ids.numel())):
        raise ValueError(f"molecules must number the molecules 0..G-1 without gaps, got ids {ids.tolist()}")
    g = int(ids.numel())
    charge = torch.zeros(g, dtype=torch.long) if charges is None else torch.as_tensor(list(charges), dtype=torch.long)
    if charge.shape != (g,):
        raise ValueError(f"charges must give one total charge per molecule ({g}), got {tuple(charge.shape)}")
    model.check_charges(charge)
    sizes = torch.bincount(mol)
    pairs = (n * n - int((sizes * sizes).sum())) // 2
    if model.long_range is not None and pairs > MAX_INTERMOLECULAR_PAIRS:
        raise ValueError(f"the {g} molecules of these {n} atoms make {pairs:,} intermolecular atom pairs, which the "
                         f"long-range head would evaluate every step (quadratic in the atoms of different "
                         f"molecules; at most {MAX_INTERMOLECULAR_PAIRS:,}, several GB beyond that): make the ML "
                         f"region smaller (ML/MM, with the solvent in the MM force field)")
    return mol, charge
