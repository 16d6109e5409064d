"""Step cost of range-schnet vs schnet vs torch_geometric's SchNet, side by side in one process.

Two measurements on real dha-xtb frames (56 atoms), every model at the same width, filter
width, cutoff, radial basis and 3 interactions (RANGE: 3 master nodes, ``--heads`` heads):

* ``md``: one DHA structure, energy + forces as an MD step needs them. Our models run as
  the exported TorchScript module OpenMM calls (positions in nm, its own neighbour search);
  torch_geometric's SchNet runs eagerly on the same pairs (it has no export path of its own).
* ``train``: one force-matching training step on 16 frames: energy and forces, the loss
  ``sum dE^2 + sum |dF|^2`` backward through the forces, and an AdamW step.

Configurations alternate within each repeat; the median process CPU time (1 thread) is
reported, so load from other processes on the machine changes the numbers little. Results:
``benchmarks/results/train_step.csv`` and ``.md`` with the targets (range-schnet <= 1.25 x
schnet per MD step and <= 1.3 x per training step; our schnet <= 0.8 x torch_geometric's).

    .venv/bin/python benchmarks/train_step.py [--width 64] [--heads 8] [--repeats 20]
"""
import argparse
import sys
import time
from pathlib import Path

import torch

from openmm_range.files import write_csv_atomic, write_text_atomic

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


def pyg_schnet(width: int, cutoff: float, num_rbf: int):
    """torch_geometric's SchNet with our neighbour pairs (torch-cluster's radius_graph is not installed)."""
    from torch_geometric.nn.models import SchNet

    from openmm_range.neighbors import neighbor_pairs

    def graph(pos, batch):
        edges, _ = neighbor_pairs(pos, cutoff, batch)
        return edges, (pos[edges[0]] - pos[edges[1]]).norm(dim=-1)

    torch.manual_seed(0)
    return SchNet(hidden_channels=width, num_filters=width, num_interactions=3, num_gaussians=num_rbf,
                  cutoff=cutoff, interaction_graph=graph)


def energy_forces(model, z, pos, batch, create_graph):
    pos = pos.detach().requires_grad_(True)
    energy = model(z, pos, batch).reshape(-1)
    (grad,) = torch.autograd.grad(energy.sum(), pos, create_graph=create_graph)
    return energy, -grad


def main(argv=None) -> int:
    import openmm_range
    from openmm_range.data import load_dataset
    from openmm_range.models.config import default_num_rbf

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--cutoff", type=float, default=5.0)
    p.add_argument("--frames", type=int, default=16, help="structures per training step (default 16)")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    num_rbf = default_num_rbf("schnet", args.cutoff)
    data = load_dataset(REPO / "data" / "dha-xtb", dtype=torch.float32)
    frames = [data[i] for i in range(args.frames)]
    from torch_geometric.data import Batch

    batch = Batch.from_data_list(frames)
    ours = {}
    for name in ("range-schnet", "schnet"):
        torch.manual_seed(0)
        ours[name] = openmm_range.create_model(name, cutoff=args.cutoff, hidden_channels=args.width,
                                               num_filters=args.width, num_interactions=3, num_rbf=num_rbf,
                                               num_heads=args.heads, num_master_nodes=3, elements=[1, 6, 8])
    models = {**ours, "pyg-schnet": pyg_schnet(args.width, args.cutoff, num_rbf)}
    z1, pos1 = frames[0].z, frames[0].pos
    exported = {name: openmm_range.export(m, z1.tolist(), return_forces=True) for name, m in ours.items()}
    one = torch.zeros(len(z1), dtype=torch.long)

    def md_step(name):
        if name in exported:
            return exported[name](pos1 / 10.0)
        return energy_forces(models[name], z1, pos1, one, create_graph=False)

    optimisers = {name: torch.optim.AdamW(m.parameters(), lr=1e-4) for name, m in models.items()}

    def train_step(name):
        model, opt = models[name], optimisers[name]
        model.train()
        opt.zero_grad(set_to_none=True)
        energy, forces = energy_forces(model, batch.z, batch.pos, batch.batch, create_graph=True)
        de = energy - batch.energy.reshape(-1)
        df = forces - batch.forces
        ((de * de).sum() + (df * df).sum()).backward()
        opt.step()

    rows = []
    for kind, fn in (("md", md_step), ("train", train_step)):
        for name in models:  # warm-up (TorchScript profiling runs, allocator)
            for _ in range(3):
                fn(name)
        times = {name: [] for name in models}
        for _ in range(args.repeats):
            for name in models:
                c0 = time.process_time()
                fn(name)
                times[name].append(time.process_time() - c0)
        for name, t in times.items():
            rows.append({"step": kind, "model": name, "width": args.width, "heads": args.heads if name == "range-schnet" else "",
                         "cutoff_A": args.cutoff, "num_rbf": num_rbf, "structures": 1 if kind == "md" else args.frames,
                         "median_ms": round(1e3 * sorted(t)[len(t) // 2], 3), "threads": args.threads})
        print(rows[-3:], flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_csv_atomic(RESULTS / "train_step.csv", rows)
    ms = {(r["step"], r["model"]): r["median_ms"] for r in rows}
    md = ["# Step cost: range-schnet vs schnet vs torch_geometric SchNet", "",
          f"dha-xtb frames (56 atoms); width {args.width}, filters {args.width}, cutoff {args.cutoff} Å, {num_rbf} RBFs, "
          f"3 interactions; RANGE 3 master nodes, {args.heads} heads. Median process CPU time of {args.repeats} "
          f"repeats, {args.threads} thread(s), configurations alternating. md: one structure, energy + forces "
          f"(ours: the exported module; PyG: eager). train: {args.frames} structures, loss backward through the forces, AdamW step.",
          "", "| step | range-schnet (ms) | schnet (ms) | PyG SchNet (ms) | range / schnet | schnet / PyG |",
          "|---|---|---|---|---|---|"]
    checks = []
    for kind, limit, goal in (("md", 1.25, 1.1), ("train", 1.3, 1.15)):
        r, s, g = ms[(kind, "range-schnet")], ms[(kind, "schnet")], ms[(kind, "pyg-schnet")]
        md.append(f"| {kind} | {r} | {s} | {g} | {r / s:.3f} | {s / g:.3f} |")
        checks.append(f"- {kind}: range-schnet / schnet = {r / s:.3f} (target <= {limit}, goal {goal}: "
                      f"{'met' if r / s <= limit else 'MISSED'}); schnet / PyG = {s / g:.3f} (target <= 0.8, goal 0.5: "
                      f"{'met' if s / g <= 0.8 else 'MISSED'})")
    md += ["", *checks]
    write_text_atomic(RESULTS / "train_step.md", "\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
