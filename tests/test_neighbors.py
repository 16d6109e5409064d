"""Neighbour lists: every path against a direct all-images search."""
import itertools

import pytest
import torch

from openmm_range.neighbors import cell_list_neighbors, neighbor_pairs, padded_neighbors


def reference_pairs(pos, cutoff, box=None):
    """All (src, dst) pairs closer than cutoff, searching the 27 nearest images explicitly."""
    out = set()
    n = pos.shape[0]
    images = [torch.zeros(3, dtype=pos.dtype)]
    if box is not None:
        images = [a * box[0] + b * box[1] + c * box[2] for a, b, c in itertools.product((-1, 0, 1), repeat=3)]
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            d = min(float((pos[j] - pos[i] + img).norm()) for img in images)
            if d < cutoff:
                out.add((j, i))
    return out


def as_set(edge_index):
    return set(map(tuple, edge_index.T.tolist()))


def triclinic_box():
    return torch.tensor([[20.0, 0.0, 0.0], [3.0, 19.0, 0.0], [-4.0, 2.5, 18.0]], dtype=torch.float64)


@pytest.mark.parametrize("method", ["brute", "cell"])
@pytest.mark.parametrize("periodic", [False, True])
def test_pairs_match_reference(method, periodic):
    g = torch.Generator().manual_seed(0)
    box = triclinic_box() if periodic else None
    pos = torch.rand(150, 3, generator=g, dtype=torch.float64) * 19.0
    cutoff = 5.5
    edges, shift = neighbor_pairs(pos, cutoff, box=box, method=method)
    assert as_set(edges) == reference_pairs(pos, cutoff, box)
    vec = pos[edges[0]] - pos[edges[1]] + shift
    assert float(vec.norm(dim=1).max()) < cutoff


def test_cell_list_matches_brute_on_large_cluster():
    g = torch.Generator().manual_seed(1)
    pos = torch.rand(3000, 3, generator=g, dtype=torch.float64) * 30.0
    a, _ = neighbor_pairs(pos, 4.0, method="brute")
    b, _ = neighbor_pairs(pos, 4.0, method="cell")
    assert as_set(a) == as_set(b) and a.shape[1] > 10000


def test_batched_pairs_stay_inside_graphs():
    pos = torch.zeros(6, 3, dtype=torch.float64)  # all atoms on top of each other...
    pos[:, 0] = torch.arange(6) * 0.1
    batch = torch.tensor([0, 0, 0, 1, 1, 1])
    edges, _ = neighbor_pairs(pos, 5.0, batch=batch)
    assert bool((batch[edges[0]] == batch[edges[1]]).all())  # ...but never paired across graphs
    assert edges.shape[1] == 2 * 3 * 2


@pytest.mark.parametrize("periodic", [False, True])
def test_padded_path_matches_and_counts_overflow(periodic):
    g = torch.Generator().manual_seed(2)
    box = triclinic_box() if periodic else None
    pos = torch.rand(60, 3, generator=g, dtype=torch.float64) * 19.0
    cutoff = 5.0
    src, dst, vec, lost = padded_neighbors(pos, cutoff, 59, box)
    real = vec.norm(dim=1) < cutoff
    got = set(zip(src[real].tolist(), dst[real].tolist()))
    assert got == reference_pairs(pos, cutoff, box) and int(lost) == 0
    counts = torch.bincount(dst[real], minlength=60)
    k = int(counts.max()) - 2
    _, _, _, lost = padded_neighbors(pos, cutoff, k, box)
    assert int(lost) == int(torch.clamp(counts - k, min=0).sum()) > 0


@pytest.mark.parametrize("periodic", [False, True])
def test_static_cell_list_matches_reference_and_reports_every_overflow(periodic):
    g = torch.Generator().manual_seed(3)
    box = triclinic_box() if periodic else None
    pos = torch.rand(150, 3, generator=g, dtype=torch.float64) * 19.0
    if not periodic:
        pos[:10] += 60.0  # a far cluster: cells far apart in the hash
    cutoff = 5.0
    src, dst, vec, lost = cell_list_neighbors(pos, cutoff, 60, box)
    real = vec.norm(dim=1) < cutoff
    got = list(zip(src[real].tolist(), dst[real].tolist()))
    assert len(got) == len(set(got))  # no pair twice (hash collisions are filtered)
    assert set(got) == reference_pairs(pos, cutoff, box) and int(lost) == 0
    # padding slots carry the constant far vector and no gradient
    assert torch.all(vec[~real].norm(dim=1) == 2 * cutoff)
    counts = torch.bincount(dst[real], minlength=150)
    k = int(counts.max()) - 2
    assert int(cell_list_neighbors(pos, cutoff, k, box)[3]) >= int(torch.clamp(counts - k, min=0).sum()) > 0
    assert int(cell_list_neighbors(pos, cutoff, 60, box, cell_capacity=2)[3]) > 0  # crowded bucket
    if periodic:  # fewer than 3 cells along a box vector: refused through `lost`
        assert int(cell_list_neighbors(pos, 7.0, 60, box)[3]) > 0
    csrc, cdst, cvec, clost = cell_list_neighbors(pos, cutoff, 60, box, compact=True)
    assert sorted(zip(csrc.tolist(), cdst.tolist())) == sorted(got) and int(clost) == 0
    static_vec = {pair: v for pair, v in zip(got, vec[real].tolist())}
    assert all(static_vec[pair] == v for pair, v in zip(zip(csrc.tolist(), cdst.tolist()), cvec.tolist()))
    scripted = torch.jit.script(cell_list_neighbors)
    for a, b in zip(scripted(pos, cutoff, 60, box), (src, dst, vec, lost)):
        assert torch.equal(a, b)


def test_cutoff_larger_than_half_box_is_refused():
    pos = torch.zeros(4, 3, dtype=torch.float64)
    box = torch.eye(3, dtype=torch.float64) * 9.0
    with pytest.raises(ValueError, match="half the smallest box width"):
        neighbor_pairs(pos, 5.0, box=box)
