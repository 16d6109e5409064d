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
    "attention_cosine": [...], "lambda_scale": {...}}], "structures": S}`` where, for each
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
    return {"pairs": [[i + 1, j + 1] for i, j in pairs], "blocks": blocks, "structures": count,
            "sizes": {k: float(v) for k, v in at.items()}}


def format_diagnostics(diag: Dict) -> str:
    """Markdown tables of :func:`master_diagnostics`."""
    pair_names = [f"{i}-{j}" for i, j in diag["pairs"]]
    lines = [f"{diag['structures']} structures", "",
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
