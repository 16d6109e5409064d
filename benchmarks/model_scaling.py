"""Forward+backward cost of schnet vs range-schnet (same cutoff, same width) vs system size.

For each N the two models are timed alternately in one process (median of repeats), so
the RANGE/SchNet ratio is measured side by side. Peak memory of one forward+backward is
measured in a fresh subprocess per (model, N): peak resident-memory growth over a warmed-up step on CPU (sampled every 0.5 ms), or
torch.cuda.max_memory_allocated on a GPU. Writes
``benchmarks/results/model_scaling_<device>.csv`` and ``.png`` (log-log), and prints the
two target figures: the largest RANGE/SchNet time ratio for N >= 500 (target <= 1.25) and
the log-log slope of range-schnet time between 2,000 and 20,000 atoms (target <= 1.15).

    .venv/bin/python benchmarks/model_scaling.py                 # CPU, N = 100 ... 20,000
    .venv/bin/python benchmarks/model_scaling.py --device cuda --sizes 1000 ... 250000 --cuda-graph
"""
import argparse
import csv
import json
import math
import os
import gc
import subprocess
import sys
import threading
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from systems import water_cluster  # noqa: E402

import openmm_range  # noqa: E402

MODELS = ("schnet", "range-schnet")


def build(name, args, device):
    torch.manual_seed(0)
    model = openmm_range.create_model(name, cutoff=args.cutoff, hidden_channels=args.width,
                                      num_interactions=3, num_heads=16, num_master_nodes=3)
    return model.to(device)


def step(model, z, pos):
    pos = pos.detach().requires_grad_(True)
    energy = model(z, pos)
    (grad,) = torch.autograd.grad(energy.sum(), pos)
    return grad


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_pair(n, args, device):
    z, pos = water_cluster(n)
    z, pos = z.to(device), pos.to(device=device, dtype=torch.float32)
    models = {name: build(name, args, device) for name in MODELS}
    for m in models.values():  # warm-up
        step(m, z, pos)
    times = {name: [] for name in MODELS}
    repeats = args.repeats if n <= 5000 else max(2, args.repeats // 2)
    for _ in range(repeats):
        for name, m in models.items():
            sync(device)
            t0 = time.perf_counter()
            step(m, z, pos)
            sync(device)
            times[name].append(time.perf_counter() - t0)
    return len(z), {name: sorted(t)[len(t) // 2] for name, t in times.items()}


def peak_memory_child(name, n, args):
    """Run in a subprocess: print peak memory (MiB) of one forward+backward."""
    device = torch.device(args.device)
    z, pos = water_cluster(n)
    z, pos = z.to(device), pos.to(device=device, dtype=torch.float32)
    model = build(name, args, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        step(model, z, pos)
        peak = torch.cuda.max_memory_allocated() - base
        print(json.dumps({"peak_mib": peak / 2**20}))
        return
    step(model, z, pos)  # warm-up: allocator caches and one-time buffers are not counted
    gc.collect()
    base = current_rss()
    peak = [base]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], current_rss())
            time.sleep(0.0005)

    thread = threading.Thread(target=sample)
    thread.start()
    step(model, z, pos)
    done.set()
    thread.join()
    print(json.dumps({"peak_mib": (max(peak[0], current_rss()) - base) / 2**20}))


def current_rss() -> int:
    """Resident set size of this process in bytes (Linux)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_memory(name, n, args):
    cmd = [sys.executable, __file__, "--memory-child", name, str(n), "--device", args.device, "--threads", str(args.threads),
           "--width", str(args.width), "--cutoff", str(args.cutoff)]
    # A fixed mmap threshold makes glibc return every large tensor to the OS when freed, so
    # the sampled resident size follows the live tensors instead of the allocator's cache.
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_mib"]


def cuda_graph_check(args):
    """Capture the exported module's forward+backward in a CUDA graph and compare with eager."""
    device = torch.device("cuda")
    z, pos = water_cluster(300)
    model = build("range-schnet", args, "cpu")
    module = openmm_range.export(model, z.tolist(), return_forces=True, check_errors=False).to(device)
    static = (pos / 10).to(device=device, dtype=torch.float32)
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            module(static)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        e_out, f_out = module(static)
    new = (pos / 10 + 0.01).to(device=device, dtype=torch.float32)
    static.copy_(new)
    graph.replay()
    e_ref, f_ref = module(new)
    return {"cuda_graph_energy_diff": float((e_out - e_ref).abs()), "cuda_graph_force_diff": float((f_out - f_ref).abs().max())}


def loglog_slope(ns, ts):
    xs, ys = [math.log(n) for n in ns], [math.log(t) for t in ts]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 500, 1000, 2000, 5000, 10000, 20000])
    p.add_argument("--device", default="cpu")
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--cutoff", type=float, default=5.0)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    p.add_argument("--cuda-graph", action="store_true", help="also check CUDA-graph capture of the exported module")
    p.add_argument("--memory-child", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_child:
        return peak_memory_child(args.memory_child[0], int(args.memory_child[1]), args)
    device = torch.device(args.device)
    tag = device.type if device.type == "cpu" else torch.cuda.get_device_name(device).replace(" ", "_")
    out_csv = HERE / "results" / f"model_scaling_{tag}.csv"
    rows = []
    for n in args.sizes:
        n_atoms, times = time_pair(n, args, device)
        row = {"n_atoms": n_atoms, "device": tag, "width": args.width, "cutoff": args.cutoff,
               "threads": torch.get_num_threads()}
        for name in MODELS:
            row[f"{name}_s"] = times[name]
            row[f"{name}_peak_mib"] = "" if args.no_memory else round(peak_memory(name, n, args), 1)
        row["ratio"] = times["range-schnet"] / times["schnet"]
        rows.append(row)
        print(f"N={n_atoms:>7}  schnet {times['schnet'] * 1e3:9.1f} ms  range-schnet {times['range-schnet'] * 1e3:9.1f} ms"
              f"  ratio {row['ratio']:.3f}  mem {row['schnet_peak_mib']} / {row['range-schnet_peak_mib']} MiB", flush=True)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_csv.with_suffix(".tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, out_csv)
    big = [r for r in rows if r["n_atoms"] >= 500]
    worst = max(r["ratio"] for r in big) if big else float("nan")
    window = [r for r in rows if 2000 <= r["n_atoms"] <= 20000]
    slope = loglog_slope([r["n_atoms"] for r in window], [r["range-schnet_s"] for r in window]) if len(window) >= 2 else float("nan")
    summary = {"max_ratio_n_ge_500": worst, "ratio_target": 1.25, "ratio_met": worst <= 1.25,
               "range_slope_2k_20k": slope, "slope_target": 1.15, "slope_met": slope <= 1.15}
    if args.cuda_graph and device.type == "cuda":
        summary.update(cuda_graph_check(args))
    (out_csv.with_suffix(".json")).write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 4))
        for name in MODELS:
            ax.loglog([r["n_atoms"] for r in rows], [r[f"{name}_s"] for r in rows], "o-", label=name)
        ax.set_xlabel("atoms")
        ax.set_ylabel("forward+backward time (s)")
        ax.set_title(f"{tag}, width {args.width}, cutoff {args.cutoff} Å")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out_csv.with_suffix(".png"), dpi=120)
    except ImportError:
        print("matplotlib not installed: no plot")


if __name__ == "__main__":
    main()
