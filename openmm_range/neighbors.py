"""Neighbour lists: exact cutoff pairs, with optional periodic boundaries.

Conventions (all paths):

* Pairs are *directed*: ``(src, dst) = (j, i)`` means atom i receives a message from j;
  every pair within the cutoff appears in both directions, never an atom with itself.
* The pair vector is ``pos[src] - pos[dst] + shift`` (Å), pointing from i to j.
* Periodic boxes follow OpenMM's reduced triclinic form: rows are the box vectors
  ``a = (ax, 0, 0)``, ``b = (bx, by, 0)``, ``c = (cx, cy, cz)`` with ``|bx| <= ax/2`` etc.
  Only the minimum image is considered, so the cutoff must not exceed half of the
  smallest box width; larger cutoffs are refused with a ValueError.

Four paths:

* :func:`neighbor_pairs` with ``method="brute"``: all pairs inside each graph of a batch
  (O(sum n^2)), used for training batches of small molecules.
* :func:`neighbor_pairs` with ``method="cell"``: an O(N) cell list for large systems.
* :func:`padded_neighbors`: a static-shape path (no data-dependent shapes, no host
  synchronisation) used by exported TorchScript modules and CUDA-graph capture. Each atom
  has room for ``max_neighbors`` pairs; overflow is counted, never dropped silently.
* :func:`cell_list_neighbors`: the same static slots (or exact pairs) from an O(N) cell list,
  without any N x N tensor, for exported modules of many atoms.
"""
from typing import Optional, Tuple

import torch

_OFFSETS = torch.tensor([[a, b, c] for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1)])


def minimum_image(vec: torch.Tensor, box: torch.Tensor) -> torch.Tensor:
    """Wrap vectors (..., 3) Å to their minimum image in a reduced triclinic ``box`` (3, 3)."""
    vec = vec - box[2] * torch.round(vec[..., 2:3] / box[2, 2])
    vec = vec - box[1] * torch.round(vec[..., 1:2] / box[1, 1])
    vec = vec - box[0] * torch.round(vec[..., 0:1] / box[0, 0])
    return vec


def fractional(vec: torch.Tensor, box: torch.Tensor) -> torch.Tensor:
    """Coordinates (..., 3) of vectors (..., 3) Å in units of the rows of a reduced triclinic
    ``box`` (3, 3) (lower triangular: a along x, b in the xy plane); no linear solve, no host sync."""
    f2 = vec[..., 2] / box[2, 2]
    f1 = (vec[..., 1] - f2 * box[2, 1]) / box[1, 1]
    f0 = (vec[..., 0] - f1 * box[1, 0] - f2 * box[2, 0]) / box[0, 0]
    return torch.stack([f0, f1, f2], dim=-1)


def box_widths(box: torch.Tensor) -> torch.Tensor:
    """Perpendicular widths (3,) of the box spanned by the rows of ``box`` (3, 3)."""
    volume = torch.abs(torch.det(box))
    crosses = torch.stack([torch.linalg.cross(box[1], box[2]), torch.linalg.cross(box[2], box[0]),
                           torch.linalg.cross(box[0], box[1])])
    return volume / torch.linalg.norm(crosses, dim=1)


#: an exported model searches neighbours with its cell list only in boxes at least this many cutoffs
#: wide (the cell list needs 3; the margin lets a barostat shrink the box), else all pairs
CELL_LIST_MIN_WIDTH_CUTOFFS = 3.3


def neighbor_search_for_box(box: torch.Tensor, cutoff: float) -> str:
    """The exporter's ``neighbor_search`` for a periodic ``box`` (3, 3) Å and ``cutoff`` Å:
    'all-pairs' in a box narrower than CELL_LIST_MIN_WIDTH_CUTOFFS cutoffs, else 'auto'."""
    narrow = float(box_widths(box.double()).min()) < CELL_LIST_MIN_WIDTH_CUTOFFS * cutoff
    return "all-pairs" if narrow else "auto"


def check_box(box: torch.Tensor, cutoff: float) -> None:
    """Raise ValueError unless ``box`` (3, 3) is a valid reduced box with half-width >= cutoff."""
    if box.shape != (3, 3):
        raise ValueError(f"box must have shape (3, 3) (rows = box vectors), got {tuple(box.shape)}")
    if not torch.isfinite(box).all():
        raise ValueError("box contains NaN or inf")
    if box[0, 1] != 0 or box[0, 2] != 0 or box[1, 2] != 0:
        raise ValueError("box must be in reduced triclinic form (a along x, b in the xy plane), as OpenMM gives it")
    widths = box_widths(box.double())
    if not bool((widths > 0).all()):
        raise ValueError("box vectors are degenerate (zero volume)")
    if cutoff > 0.5 * float(widths.min()):
        raise ValueError(
            f"cutoff {cutoff} Å is larger than half the smallest box width ({0.5 * float(widths.min()):.3f} Å); "
            "use a larger box or a smaller cutoff")


def _pairs_brute(pos: torch.Tensor, cutoff: float, batch: torch.Tensor, num_graphs: int,
                 box: Optional[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
    counts = torch.bincount(batch, minlength=num_graphs)
    ptr = torch.cumsum(counts, 0) - counts
    n_of = counts[batch]
    dst = torch.repeat_interleave(torch.arange(pos.shape[0], device=pos.device), n_of)
    first = torch.repeat_interleave(ptr[batch], n_of)
    local = torch.arange(dst.shape[0], device=pos.device) - torch.repeat_interleave(torch.cumsum(n_of, 0) - n_of, n_of)
    src = first + local
    keep = src != dst
    src, dst = src[keep], dst[keep]
    return _filter_pairs(pos, cutoff, src, dst, batch, box)


def _filter_pairs(pos, cutoff, src, dst, batch, box):
    vec = pos[src] - pos[dst]
    shift = torch.zeros_like(vec)
    if box is not None:
        boxes = box if box.dim() == 3 else box.unsqueeze(0)
        for g in range(boxes.shape[0]):
            sel = batch[dst] == g if boxes.shape[0] > 1 else torch.ones_like(dst, dtype=torch.bool)
            wrapped = minimum_image(vec[sel], boxes[g])
            shift[sel] = wrapped - vec[sel]
        vec = vec + shift
    keep = (vec * vec).sum(-1) < cutoff * cutoff
    return torch.stack([src[keep], dst[keep]]), shift[keep]


def _pairs_cell(pos: torch.Tensor, cutoff: float, box: Optional[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
    """Cell list for one graph: O(N) for bounded density."""
    n_atoms = pos.shape[0]
    dev = pos.device
    if box is not None:
        frac = pos @ torch.linalg.inv(box)
        frac = frac - torch.floor(frac)
        ncell = torch.floor(box_widths(box) / cutoff).long()
        if bool((ncell < 3).any()):  # too few cells for distinct neighbour cells
            return _pairs_brute(pos, cutoff, torch.zeros(n_atoms, dtype=torch.long, device=dev), 1, box)
        cell = torch.minimum(torch.floor(frac * ncell).long(), ncell - 1)
    else:
        cell = torch.floor((pos - pos.min(0).values) / cutoff).long()
        ncell = cell.max(0).values + 3  # room for the -1/+1 neighbours without wrapping
        cell = cell + 1
    stride = torch.stack([ncell[1] * ncell[2], ncell[2], torch.ones_like(ncell[2])])
    cid = (cell * stride).sum(-1)
    order = torch.argsort(cid)
    uniq, counts = torch.unique(cid, sorted=True, return_counts=True)
    start = torch.cumsum(counts, 0) - counts
    neigh = cell.unsqueeze(1) + _OFFSETS.to(dev).unsqueeze(0)  # (N, 27, 3)
    if box is not None:
        neigh = torch.remainder(neigh, ncell)
    nid = (neigh * stride).sum(-1).reshape(-1)
    slot = torch.clamp(torch.searchsorted(uniq, nid), max=uniq.shape[0] - 1)
    found = uniq[slot] == nid
    cnt = torch.where(found, counts[slot], torch.zeros_like(slot))
    owner = torch.repeat_interleave(torch.arange(nid.shape[0], device=dev), cnt)
    local = torch.arange(owner.shape[0], device=dev) - torch.repeat_interleave(torch.cumsum(cnt, 0) - cnt, cnt)
    src = order[start[slot[owner]] + local]
    dst = owner // 27
    keep = src != dst
    return _filter_pairs(pos, cutoff, src[keep], dst[keep], torch.zeros(n_atoms, dtype=torch.long, device=dev), box)


def neighbor_pairs(pos: torch.Tensor, cutoff: float, batch: Optional[torch.Tensor] = None,
                   box: Optional[torch.Tensor] = None, method: str = "auto") -> Tuple[torch.Tensor, torch.Tensor]:
    """All directed pairs closer than ``cutoff`` (data-dependent size; eager use).

    Args:
        pos: (N, 3) positions, Å.
        cutoff: Å, > 0.
        batch: (N,) graph index per atom, sorted ascending (default: one graph).
        box: (3, 3) or (B, 3, 3) box vectors in Å, or None for no periodicity.
        method: "brute" (per graph, O(sum n^2)), "cell" (cell list, O(N)) or "auto"
            (cell for graphs above 1,000 atoms).
    Returns:
        edge_index (2, E) long with rows (src, dst); shift (E, 3) Å so that the pair vector
        is ``pos[src] - pos[dst] + shift``.
    """
    if not cutoff > 0:
        raise ValueError(f"cutoff must be positive (Å), got {cutoff!r}")
    if method not in ("auto", "brute", "cell"):
        raise ValueError(f"unknown neighbour method {method!r}; accepted: 'auto', 'brute', 'cell'")
    if batch is None:
        batch = torch.zeros(pos.shape[0], dtype=torch.long, device=pos.device)
    num_graphs = int(batch.max()) + 1 if batch.numel() else 0
    if box is not None:
        for b in (box if box.dim() == 3 else box.unsqueeze(0)):
            check_box(b, cutoff)
    with torch.no_grad():
        pos = pos.detach()
        largest = int(torch.bincount(batch).max()) if batch.numel() else 0
        if method == "cell" or (method == "auto" and largest > 1000):
            edges, shifts = [], []
            counts = torch.bincount(batch, minlength=num_graphs)
            offset = 0
            for g in range(num_graphs):
                n = int(counts[g])
                gbox = None if box is None else (box[g] if box.dim() == 3 else box)
                e, s = _pairs_cell(pos[offset:offset + n], cutoff, gbox)
                edges.append(e + offset)
                shifts.append(s)
                offset += n
            return torch.cat(edges, 1), torch.cat(shifts, 0)
        return _pairs_brute(pos, cutoff, batch, num_graphs, box)


def _all_displacements(pos: torch.Tensor, box: Optional[torch.Tensor]) -> torch.Tensor:
    """(N, N, 3) minimum-image vectors pos[j] - pos[i] (no gradient), for the all-pairs searches."""
    d = pos.detach().unsqueeze(0) - pos.detach().unsqueeze(1)
    if box is not None:
        d = minimum_image(d, box.detach())
    return d


def _pair_vectors(pos: torch.Tensor, src: torch.Tensor, dst: torch.Tensor, box: Optional[torch.Tensor]) -> torch.Tensor:
    """(E, 3) pair vectors pos[src] - pos[dst] (minimum image), differentiable in ``pos``."""
    vec = pos[src] - pos[dst]
    if box is not None:
        vec = minimum_image(vec, box)
    return vec


def padded_neighbors(pos: torch.Tensor, cutoff: float, max_neighbors: int, box: Optional[torch.Tensor] = None):
    """Static-shape neighbour list for one graph (TorchScript-able, CUDA-graph capturable).

    Every atom gets exactly ``K = max_neighbors`` slots (``K <= N - 1``), filled with its
    nearest atoms. Slots beyond the cutoff are padding: their vector is replaced by a
    constant vector of length ``2 * cutoff``, so every smooth-cutoff message from them
    is exactly zero and their gradient is zero.

    Args:
        pos: (N, 3) Å (gradients flow through the returned vectors).
        cutoff: Å.
        max_neighbors: K.
        box: optional (3, 3) reduced box, Å.
    Returns:
        src (N*K,), dst (N*K,), vec (N*K, 3) Å from dst to src, and ``lost`` (0-d long):
        the number of pairs inside the cutoff that did not fit (0 unless K is too small).
    """
    n = pos.shape[0]
    with torch.no_grad():
        d = _all_displacements(pos, box)
        d2 = (d * d).sum(-1) + torch.diag(torch.full([n], float("inf"), dtype=pos.dtype, device=pos.device))
        inside = d2 < cutoff * cutoff
        lost = torch.clamp(inside.sum(1) - max_neighbors, min=0).sum()
        nearest, idx = torch.topk(d2, max_neighbors, dim=1, largest=False)
        mask = (nearest < cutoff * cutoff).reshape(-1)
    src = idx.reshape(-1)
    dst = torch.arange(n, device=pos.device).repeat_interleave(max_neighbors)
    return src, dst, _padded_vectors(pos, src, dst, box, mask, cutoff), lost


def exact_pairs_single(pos: torch.Tensor, cutoff: float, box: Optional[torch.Tensor] = None, once: bool = False):
    """All directed pairs closer than ``cutoff`` in one small graph, by an all-pairs search.

    TorchScript-able but with data-dependent shapes (not CUDA-graph capturable): the fast
    choice on CPUs for small molecules, where the padded path would evaluate many empty
    slots. Returns src (E,), dst (E,), vec (E, 3) Å from dst to src. ``once``: each pair in
    one direction only (src < dst), for models that send messages both ways.
    """
    n = pos.shape[0]
    with torch.no_grad():
        d = _all_displacements(pos, box)
        keep = torch.tril(torch.ones(n, n, dtype=torch.bool, device=pos.device), -1) if once \
            else ~torch.eye(n, dtype=torch.bool, device=pos.device)
        inside = ((d * d).sum(-1) < cutoff * cutoff) & keep
        pairs = torch.nonzero(inside)
    dst, src = pairs[:, 0], pairs[:, 1]
    return src, dst, _pair_vectors(pos, src, dst, box)


def default_cell_capacity(cutoff: float, density: float = 0.15) -> int:
    """Atoms one cell-list bucket can hold: 2x the count of a cutoff-sized cube at ``density``
    (atoms/Å^3; 0.15 is 1.5x liquid water), plus room for hash collisions."""
    return int(2.0 * density * cutoff**3) + 16


def cell_list_neighbors(pos: torch.Tensor, cutoff: float, max_neighbors: int, box: Optional[torch.Tensor] = None,
                        cell_capacity: int = 0, compact: bool = False):
    """O(N) neighbour list for one graph (TorchScript-able; static shapes, no host synchronisation).

    Same outputs and padding convention as :func:`padded_neighbors`, but without the N x N
    displacement matrix: atoms are binned into cubic cells of edge ``cutoff`` (fractional
    cells of the box when periodic), the cells are hashed into ``N`` buckets of fixed capacity
    ``C = cell_capacity`` (default :func:`default_cell_capacity`), and each atom looks at the
    ``27 C`` slots of its own and the 26 adjacent cells. A candidate counts only if its true
    cell is the one looked up, so hash collisions never duplicate a pair. Time and memory are
    O(27 C N).

    ``box``: reduced triclinic (3, 3) Å, as OpenMM gives it. Periodic boxes need at least 3 cells
    along every box vector (widths >= 3 cutoff); a smaller
    box, like a bucket holding more than C atoms or an atom with more than K neighbours,
    is reported in ``lost`` (the count of pairs that may be missing), never silently.

    ``compact=True`` returns only the pairs inside the cutoff (E of them: data-dependent
    shapes, not CUDA-graph capturable, no K limit), which is faster where shapes may vary (CPU).

    Returns src, dst (N*K,), vec (N*K, 3) Å from dst to src (E instead of N*K when ``compact``),
    and ``lost`` (0-d long).
    """
    n = pos.shape[0]
    dev = pos.device
    cap = cell_capacity if cell_capacity > 0 else default_cell_capacity(cutoff)
    with torch.no_grad():
        p = pos.detach()
        lost = torch.zeros((), dtype=torch.long, device=dev)
        if box is not None:
            b = box.detach()
            ncell = torch.clamp(torch.floor(box_widths(b) / cutoff), min=1.0).long()
            lost = lost + (ncell < 3).any().long() * n * n  # too few cells: adjacent cells repeat
            frac = fractional(p, b)  # not linalg.inv: on CUDA it synchronises with the host (no graph capture)
            frac = frac - torch.floor(frac)
            cell = torch.minimum(torch.floor(frac * ncell).long(), ncell - 1)
        else:
            cell = torch.floor((p - p.min(0).values) / cutoff).long() + 1
            ncell = cell.max(0).values + 2  # room for the -1/+1 neighbours without wrapping
        stride = torch.stack([ncell[1] * ncell[2], ncell[2], torch.ones_like(ncell[2])])
        true_id = (cell * stride).sum(-1)  # (N,)
        buckets = max(n, 1)
        bucket = torch.remainder(true_id, buckets)
        counts = torch.zeros(buckets, dtype=torch.long, device=dev).scatter_add_(0, bucket, torch.ones_like(bucket))
        lost = lost + torch.clamp(counts - cap, min=0).sum() * 27
        order = torch.argsort(bucket)
        start = torch.cumsum(counts, 0) - counts
        k27 = torch.arange(27, device=dev)
        offsets = torch.stack([k27 // 9, (k27 // 3) % 3, k27 % 3], 1) - 1  # (27, 3): -1, 0, +1
        neigh = cell.unsqueeze(1) + offsets.unsqueeze(0)  # (N, 27, 3)
        if box is not None:
            neigh = torch.remainder(neigh, ncell)
        neigh_id = (neigh * stride).sum(-1)  # (N, 27)
        nb = torch.remainder(neigh_id, buckets)
        slot = torch.arange(cap, device=dev)
        pos_in = start[nb].unsqueeze(-1) + slot  # (N, 27, C)
        valid = slot < counts[nb].unsqueeze(-1)
        cand = order[torch.clamp(pos_in, max=n - 1)]
        valid = valid & (true_id[cand] == neigh_id.unsqueeze(-1))
        cand = cand.reshape(n, -1)
        valid = valid.reshape(n, -1) & (cand != torch.arange(n, device=dev).unsqueeze(1))
        d = p[cand] - p.unsqueeze(1)
        if box is not None:
            d = minimum_image(d, box.detach())
        d2 = (d * d).sum(-1)
        inside = valid & (d2 < cutoff * cutoff)
    if compact:
        with torch.no_grad():
            pairs = torch.nonzero(inside)
            dst = pairs[:, 0]
            src = cand[dst, pairs[:, 1]]
        vec = _pair_vectors(pos, src, dst, box)
    else:
        with torch.no_grad():
            lost = lost + torch.clamp(inside.sum(1) - max_neighbors, min=0).sum()
            d2 = torch.where(inside, d2, torch.full_like(d2, float("inf")))
            k = min(max_neighbors, d2.shape[1])
            nearest, which = torch.topk(d2, k, dim=1, largest=False)
            idx = torch.gather(cand, 1, which)
            if k < max_neighbors:  # pad to K slots (an atom can never have more than 27 C candidates)
                pad = max_neighbors - k
                idx = torch.cat([idx, torch.zeros(n, pad, dtype=idx.dtype, device=dev)], 1)
                nearest = torch.cat([nearest, torch.full([n, pad], float("inf"), dtype=nearest.dtype, device=dev)], 1)
            mask = torch.isfinite(nearest).reshape(-1)
            src = idx.reshape(-1)
            dst = torch.arange(n, device=dev).repeat_interleave(max_neighbors)
        vec = _padded_vectors(pos, src, dst, box, mask, cutoff)
    return src, dst, vec, lost


def _padded_vectors(pos: torch.Tensor, src: torch.Tensor, dst: torch.Tensor, box: Optional[torch.Tensor],
                    mask: torch.Tensor, cutoff: float) -> torch.Tensor:
    """Pair vectors, with the constant vector of length ``2 * cutoff`` in padding slots (``mask`` False)."""
    vec = _pair_vectors(pos, src, dst, box)
    far = torch.zeros_like(vec)
    far[:, 0] = 2.0 * cutoff
    return torch.where(mask.unsqueeze(-1), vec, far)
