"""Master-node diagnostics of a RANGE model on a dataset (``openmm-range inspect``).

Per RANGE block it reports whether the master nodes are distinct (state distance and
attention overlap for every pair) and what the size regulariser does (Lambda_I(n) at the
smallest and largest molecule of the training set and at the median size of the
inspected structures).
"""
from itertools import combinations
from typing import Dict, List

import numpy as np
import torch
from torch_geometric.data import Batch

from ..nn.range_block import segment_sum
from .loss import molecule_inputs


def _block_inputs(model, batch) -> List[tuple]:
    """The arguments each RANGE block received in one forward pass of ``batch`` (in block order)."""
    captured: List[tuple] = []
    hooks = [layer.range_block.register_forward_pre_hook(lambda _m, args: captured.append(args))
             for layer in model.layers if layer.range_block is not None]
    try:
        with torch.no_grad():
            model(batch.z, batch.pos.to(model.master_init.dtype), batch.batch, **molecule_inputs(batch))
    finally:
        for h in hooks:
            h.remove()
    return captured


def master_diagnostics(model, dataset, batch_size: int = 16) -> Dict:
    """Master-node diversity and regulariser factors of ``model`` on ``dataset``.

    Returns ``{"pairs": [[I, J], ...], "blocks": [per block: {"state_distance": [...],
    "attention_cosine": [...], "lambda_scale": {...}}], "structures": S, "master_sets": K}`` (K master-node
    sets: one per molecule, several per structure of a dimer) where, for each
    pair (I < J, counted from 1):

    * ``state_distance`` = mean over molecules (each has its own master nodes) of |H_I - H_J| / |H_I| (block output states);
    * ``attention_cosine`` = mean over molecules and heads of the cosine between the
      aggregation weights of I and J over the structure's atoms (1 = identical attention);

    and ``lambda_scale`` maps "N_min", "N_max" (atom counts of the training set where the
    model knows them, else of ``dataset``) and "median" (of ``dataset``) to Lambda_I(n) of
    every master node.
    """
    if not model.use_range:
        raise ValueError(f"inspect needs a RANGE model (range-schnet, range-painn); this one is {model.config.name!r}")
    model = model.eval()
    M = model.num_master
    pairs = list(combinations(range(M), 2))
    range_blocks = [layer.range_block for layer in model.layers if layer.range_block is not None]
    n_blocks = len(range_blocks)
    dist_sum = np.zeros((n_blocks, len(pairs)))
    cos_sum = np.zeros((n_blocks, len(pairs)))
    count = 0
    sizes = []
    for start in range(0, len(dataset), batch_size):
        batch = Batch.from_data_list([dataset[i] for i in range(start, min(start + batch_size, len(dataset)))])
        inputs = _block_inputs(model, batch)
        seg, B = inputs[0][3], int(inputs[0][4])  # the master-node sets: one per molecule (or structure)
        sizes.extend(torch.bincount(seg, minlength=B).tolist())
        for k, args in enumerate(inputs):
            block = range_blocks[k]
            with torch.no_grad():
                _, master, alpha, _ = block.attention(*args)
            norms = torch.sqrt(segment_sum(alpha * alpha, seg, B))  # (B, M, L)
            for p, (i, j) in enumerate(pairs):
                d = (master[:, i] - master[:, j]).norm(dim=-1) / master[:, i].norm(dim=-1).clamp_min(1e-30)
                dist_sum[k, p] += float(d.sum())
                dot = segment_sum(alpha[:, i] * alpha[:, j], seg, B)  # (B, L)
                cos_sum[k, p] += float((dot / (norms[:, i] * norms[:, j]).clamp_min(1e-30)).mean(-1).sum())
        count += B
    cfg = model.config
    n_min, n_max = (cfg.n_min, cfg.n_max) if cfg.n_min is not None else (min(sizes), max(sizes))
    at = {"N_min": n_min, "median": float(np.median(sizes)), "N_max": n_max}
    blocks = []
    for k, block in enumerate(range_blocks):
        with torch.no_grad():
            counts = torch.tensor(list(at.values()), dtype=model.master_init.dtype)
            scale = block.master_scale(model.normalised_size(counts))
        blocks.append({"state_distance": (dist_sum[k] / max(count, 1)).tolist(),
                       "attention_cosine": (cos_sum[k] / max(count, 1)).tolist(),
                       "lambda_scale": {name: scale[r].tolist() for r, name in enumerate(at)}})
    return {"pairs": [[i + 1, j + 1] for i, j in pairs], "blocks": blocks, "structures": len(dataset), "master_sets": count,
            "sizes": {k: float(v) for k, v in at.items()}}


def format_diagnostics(diag: Dict) -> str:
    """Markdown tables of :func:`master_diagnostics`."""
    pair_names = [f"{i}-{j}" for i, j in diag["pairs"]]
    lines = [f"{diag['structures']} structures, {diag['master_sets']} sets of master nodes (one per molecule, or per "
             "structure with range_scope 'structure'; the means below are over the sets)", "",
             "| block | " + " | ".join(f"|H_I-H_J|/|H_I| {p}" for p in pair_names) + " | "
             + " | ".join(f"attention cosine {p}" for p in pair_names) + " |",
             "|---|" + "---|" * (2 * len(pair_names))]
    for k, b in enumerate(diag["blocks"]):
        lines.append(f"| {k + 1} | " + " | ".join(f"{v:.3g}" for v in b["state_distance"]) + " | "
                     + " | ".join(f"{v:.3f}" for v in b["attention_cosine"]) + " |")
    sizes = diag["sizes"]
    lines += ["", "Lambda_I(n) per block (master nodes 1..M) at the training set's sizes: "
              + ", ".join(f"{k} = {v:g} atoms" for k, v in sizes.items()), "",
              "| block | " + " | ".join(sizes) + " |", "|---|" + "---|" * len(sizes)]
    for k, b in enumerate(diag["blocks"]):
        lines.append(f"| {k + 1} | " + " | ".join(", ".join(f"{x:.3f}" for x in b["lambda_scale"][name])
                                                  for name in sizes) + " |")
    return "\n".join(lines)


def attention_svd(model, dataset, master: int = 0, block: int = -1, batch_size: int = 16) -> Dict:
    """The paper's attention analysis: SVD of one master node's attention over many structures.

    For every structure of ``dataset`` (all of one molecule, atoms in the same order, e.g. the
    validation frames of DHA) take the aggregation weights of master node ``master`` (0-based) in
    RANGE block ``block`` (default: the last) per head, an N-vector (softmax over the atoms), and
    likewise its broadcast weights (each atom's weight on that master node, Lambda-scaled). Stacked
    over the S structures they form one S x N matrix per head and kind, whose SVD tells how many
    patterns the attention uses: one dominant singular value means the master node attends to the
    same atoms in every structure.

    Returns ``{"z": [N atomic numbers], "structures": S, "block": b (1-based), "master": I (1-based),
    "aggregation" / "broadcast": {"singular_values": (L, K) normalised to sum 1 per head,
    "component": (L, N) first right singular vector per head, sign chosen so that it sums > 0,
    "mean": (L, N) mean weight per atom}}``.
    """
    if not model.use_range:
        raise ValueError(f"the attention SVD needs a RANGE model (range-schnet, range-painn); this one is "
                         f"{model.config.name!r}")
    model = model.eval()
    blocks = [layer.range_block for layer in model.layers if layer.range_block is not None]
    if not -len(blocks) <= block < len(blocks):
        raise ValueError(f"block {block} does not exist: the model has {len(blocks)} RANGE blocks")
    if not 0 <= master < model.num_master:
        raise ValueError(f"master node {master + 1} does not exist: the model has {model.num_master}")
    index = block % len(blocks)
    z_ref = None
    rows: Dict[str, List[np.ndarray]] = {"aggregation": [], "broadcast": []}
    for start in range(0, len(dataset), batch_size):
        batch = Batch.from_data_list([dataset[i] for i in range(start, min(start + batch_size, len(dataset)))])
        args = _block_inputs(model, batch)[index]
        seg, B = args[3], int(args[4])
        with torch.no_grad():
            _, _, alpha, weights = blocks[index].attention(*args)
        z = batch.z.numpy()
        for g in range(B):
            atoms = (seg == g).nonzero().flatten().numpy()
            if z_ref is None:
                z_ref = z[atoms]
            if len(atoms) != len(z_ref) or not np.array_equal(z[atoms], z_ref):
                raise ValueError("the attention SVD needs structures of one molecule with its atoms in one order "
                                 f"(e.g. DHA frames); structure {start + g} differs from the first")
            rows["aggregation"].append(alpha[atoms, master].T.numpy())  # (L, N)
            rows["broadcast"].append(weights[atoms, 1 + master].T.numpy())  # column 0 is the self-loop
    out = {"z": z_ref.tolist(), "structures": len(rows["aggregation"]), "block": index + 1, "master": master + 1}
    for kind, mats in rows.items():
        stack = np.stack(mats, axis=1)  # (L, S, N)
        values, components = [], []
        for per_head in stack:
            _, s, vt = np.linalg.svd(per_head, full_matrices=False)
            values.append(s / s.sum())
            components.append(vt[0] if vt[0].sum() >= 0 else -vt[0])
        out[kind] = {"singular_values": np.array(values).tolist(), "component": np.array(components).tolist(),
                     "mean": stack.mean(axis=1).tolist()}
    return out


def format_svd(svd: Dict, top: int = 3) -> str:
    """Markdown table of :func:`attention_svd`: the leading normalised singular values per head."""
    lines = [f"Attention SVD, master node {svd['master']} of RANGE block {svd['block']}, "
             f"{svd['structures']} structures of {len(svd['z'])} atoms", "",
             "| weights | head | " + " | ".join(f"s{k + 1}" for k in range(top)) + " |",
             "|---|---|" + "---|" * top]
    for kind in ("aggregation", "broadcast"):
        for head, s in enumerate(svd[kind]["singular_values"]):
            lines.append(f"| {kind} | {head + 1} | " + " | ".join(f"{v:.3f}" for v in s[:top]) + " |")
    return "\n".join(lines)
