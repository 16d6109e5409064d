"""Forward+backward cost of schnet vs range-schnet (same cutoff, width and heads) vs system size.

By default the timed call is the exported TorchScript module as OpenMM calls it
(``forward(positions_nm, box_nm) -> (energy, forces)``, its own neighbour search included:
the O(N) cell list from ``CELL_LIST_MIN_ATOMS`` atoms on); ``--path eager`` times the
training-time path instead (``model(z, pos, box=box)`` with the eager cell list).

For each N the two models are timed alternately in one process (median of repeats), so
the RANGE/SchNet ratio is measured side by side. Peak memory of one forward+backward is
measured in a fresh subprocess per (model, N): peak resident-memory growth over a warmed-up step on CPU (sampled every 0.5 ms), or
torch.cuda.max_memory_allocated on a GPU. Writes
``benchmarks/results/model_scaling_<device>.csv`` and ``.png`` (log-log), and prints the
two target figures: the largest RANGE/SchNet time ratio for N >= 500 (target <= 1.25) and
the log-log slope of range-schnet time between 2,000 and 20,000 atoms (target <= 1.15).

    .venv/bin/python benchmarks/model_scaling.py --threads 1     # CPU, periodic water, N = 190 ... 20,580
    .venv/bin/python benchmarks/model_scaling.py --threads 1 --neighbor-crossover   # all-pairs vs cell list
    .venv/bin/python benchmarks/model_scaling.py --device cuda --sizes 1000 ... 250000 --cuda-graph
    ... --out DIR --max-seconds 120      # results into DIR; start no new N once 120 s are spent

On a GPU the peak memory is measured in the timing process (torch.cuda.max_memory_allocated
over one forward+backward, above what was allocated before it), not in subprocesses. A size
that runs out of GPU memory ends the scan: the JSON records it (``oom_at_n``) and the largest
N that fitted (``largest_n``). The CSV and JSON are rewritten after every size, so a run
killed by a time limit keeps the sizes it finished.
"""
import argparse
import json
import math
import gc
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from systems import water_box, water_cluster  # noqa: E402

import openmm_range  # noqa: E402
from openmm_range.files import atomic_write, write_csv_atomic, write_text_atomic  # noqa: E402

MODELS = ("schnet", "range-schnet")


def build(name, args, device, z=None, periodic=False, neighbor_search=None):
    """The model (eager path, or ``z`` None), or its exported module for atoms ``z``.

    Periodic water box: every water is a molecule with its own master nodes, made whole along
    its O-H bonds (one RANGE unit spanning the box has no centre and is refused), and the
    long-range head is off (its intermolecular pairs grow as N^2: docs/openmm.md). Open cluster:
    the whole cluster is one RANGE unit (the paper's global attention), head off as well."""
    torch.manual_seed(0)
    model = openmm_range.create_model(name, cutoff=args.cutoff, hidden_channels=args.width,
                                      num_interactions=3, num_heads=args.heads, num_master_nodes=3,
                                      long_range="none")
    if args.path == "eager" or z is None:
        return model.to(device)
    waters = None if not periodic else dict(molecules=[k // 3 for k in range(len(z))],
                                            bonds=[(k, k + j) for k in range(0, len(z), 3) for j in (1, 2)])
    return openmm_range.export(model.float(), z.tolist(), periodic=periodic, return_forces=True,
                               neighbor_search=neighbor_search or args.neighbor_search, **(waters or {})).to(device)


def make_system(n, args, device):
    """Atomic numbers, float32 positions (Å) and box (or None) for about ``n`` atoms."""
    if args.system == "box":
        z, pos, box = water_box(n)
        box = box.to(device=device, dtype=torch.float32)
    else:
        (z, pos), box = water_cluster(n), None
    return z.to(device), pos.to(device=device, dtype=torch.float32), box


def step(model, z, pos, box=None):
    if isinstance(model, torch.jit.ScriptModule):  # exported: nm in, (kJ/mol, kJ/mol/nm) out
        return model(pos / 10.0, box / 10.0) if box is not None else model(pos / 10.0)
    pos = pos.detach().requires_grad_(True)
    energy = model(z, pos, box=box)
    (grad,) = torch.autograd.grad(energy.sum(), pos)
    return grad


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_pair(n, args, device, memory=None):
    """Atoms, median wall and CPU seconds per model; ``memory`` (a dict) gets CUDA peak MiB per model."""
    z, pos, box = make_system(n, args, device)
    models = {name: build(name, args, device, z, box is not None) for name in MODELS}
    if memory is not None and device.type == "cuda":
        for name, m in models.items():
            memory[name] = round(cuda_peak_memory(m, z, pos, box), 1)
    warm_up(models.values(), z, pos, box)
    wall = {name: [] for name in MODELS}
    cpu = {name: [] for name in MODELS}
    repeats = args.repeats if n <= 5000 else max(3, args.repeats // 2)
    for _ in range(repeats):
        for name, m in models.items():
            sync(device)
            t0, c0 = time.perf_counter(), time.process_time()
            step(m, z, pos, box)
            sync(device)
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    return len(z), {name: statistics.median(t) for name, t in wall.items()}, \
        {name: statistics.median(t) for name, t in cpu.items()}


#: calls before timing: an exported TorchScript module settles after about three (profiling,
#: then optimised graphs); timed earlier, the 2nd and 3rd calls held compile time (1.5-4x a settled call)
WARM_UP_CALLS = 3


def warm_up(models, z, pos, box) -> None:
    for m in models:
        for _ in range(WARM_UP_CALLS):
            step(m, z, pos, box)


def peak_memory_child(name, n, args):
    """Run in a subprocess: print peak memory (MiB) of one forward+backward."""
    device = torch.device(args.device)
    z, pos, box = make_system(n, args, device)
    model = build(name, args, device, z, box is not None)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        step(model, z, pos, box)
        peak = torch.cuda.max_memory_allocated() - base
        print(json.dumps({"peak_mib": peak / 2**20}))
        return
    step(model, z, pos, box)  # warm-up: allocator caches and one-time buffers are not counted
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
    step(model, z, pos, box)
    done.set()
    thread.join()
    print(json.dumps({"peak_mib": (max(peak[0], current_rss()) - base) / 2**20}))


def current_rss() -> int:
    """Resident set size of this process in bytes (Linux)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def cuda_peak_memory(model, z, pos, box=None):
    """Peak CUDA memory (MiB) of one forward+backward above what was allocated before it."""
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    step(model, z, pos, box)
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() - base) / 2**20


def is_out_of_memory(exc: BaseException) -> bool:
    """True for a CUDA (or CPU allocator) out-of-memory error."""
    return isinstance(exc, (torch.cuda.OutOfMemoryError, MemoryError)) or "out of memory" in str(exc)


def peak_memory(name, n, args):
    cmd = [sys.executable, __file__, "--memory-child", name, str(n), "--device", args.device, "--threads", str(args.threads),
           "--width", str(args.width), "--heads", str(args.heads), "--cutoff", str(args.cutoff), "--system", args.system,
           "--path", args.path, "--neighbor-search", args.neighbor_search]
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


def neighbor_crossover(args, device):
    """CPU time of the exported range-schnet with each neighbour search, side by side per N."""
    rows = []
    for n in args.sizes:
        z, pos, box = make_system(n, args, device)
        mods = {s: build("range-schnet", args, device, z, box is not None, s) for s in ("all-pairs", "cell-list")}
        warm_up(mods.values(), z, pos, box)
        cpu = {s: [] for s in mods}
        for _ in range(args.repeats):
            for s, m in mods.items():
                c0 = time.process_time()
                step(m, z, pos, box)
                cpu[s].append(time.process_time() - c0)
        row = {"n_atoms": len(z), **{f"{s}_cpu_s": statistics.median(t) for s, t in cpu.items()}}
        row["cell_over_all_pairs"] = row["cell-list_cpu_s"] / row["all-pairs_cpu_s"]
        rows.append(row)
        print(row, flush=True)
    write_csv_atomic(Path(args.out) / f"neighbor_crossover_{args.system}.csv", rows)


def loglog_slope(ns, ts):
    xs, ys = [math.log(n) for n in ns], [math.log(t) for t in ts]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def expected_cost(n, done_n, costs) -> float:
    """Seconds size ``n`` should take: a line (fixed part + per atom) through the last two sizes done."""
    if not costs:
        return 0.0
    if len(costs) == 1 or done_n[-1] == done_n[-2]:
        return costs[-1] * n / done_n[-1]
    per_atom = max(0.0, (costs[-1] - costs[-2]) / (done_n[-1] - done_n[-2]))
    return max(0.0, costs[-1] + per_atom * (n - done_n[-1]))


def write_scaling(out_csv: Path, rows, args, device, extra):
    """Write the CSV (one row per N) and the JSON summary (target figures plus ``extra``) atomically."""
    if rows:
        write_csv_atomic(out_csv, rows)
    big = [r for r in rows if r["n_atoms"] >= 500]
    worst = max(r["ratio"] for r in big) if big else float("nan")
    window = [r for r in rows if 2000 <= r["n_atoms"] <= 20000]
    key = "range-schnet_cpu_s" if device.type == "cpu" else "range-schnet_s"
    slope = loglog_slope([r["n_atoms"] for r in window], [r[key] for r in window]) if len(window) >= 2 else float("nan")
    base_key = key.replace("range-", "")
    schnet_slope = loglog_slope([r["n_atoms"] for r in window], [r[base_key] for r in window]) if len(window) >= 2 else float("nan")
    summary = {"max_ratio_n_ge_500": worst, "ratio_target": 1.25, "ratio_met": worst <= 1.25,
               "range_slope_2k_20k": slope, "slope_target": 1.15, "slope_met": slope <= 1.15,
               "schnet_slope_2k_20k": schnet_slope, "path": args.path, "width": args.width, "heads": args.heads,
               "timing": (f"process CPU time, {torch.get_num_threads()} thread(s)" if device.type == "cpu"
                          else "wall"),
               "sizes_done": [r["n_atoms"] for r in rows], "largest_n": max((r["n_atoms"] for r in rows), default=None)}
    four, one = [r for r in rows if 3500 <= r["n_atoms"] <= 4500], [r for r in rows if 800 <= r["n_atoms"] <= 1200]
    if four and one:
        summary["time_4000_over_1000"] = four[0][key] / one[0][key]
        summary["time_4000_over_1000_target"] = 4.6
    summary.update(extra)
    write_text_atomic(out_csv.with_suffix(".json"), json.dumps(summary, indent=2) + "\n")
    return summary


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[190, 370, 650, 1000, 1540, 2190, 5180, 10120, 20580])
    p.add_argument("--system", choices=["box", "cluster"], default="box",
                   help="periodic water box (default; constant density) or open water cluster")
    p.add_argument("--device", default="cpu")
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--heads", type=int, default=8, help="RANGE attention heads (default 8)")
    p.add_argument("--path", choices=["exported", "eager"], default="exported",
                   help="time the exported module as OpenMM calls it (default), or the eager training path")
    p.add_argument("--neighbor-search", choices=["auto", "all-pairs", "cell-list"], default="auto",
                   help="neighbour search of the exported module (default auto)")
    p.add_argument("--neighbor-crossover", action="store_true",
                   help="only compare the exported all-pairs and cell-list searches at --sizes")
    p.add_argument("--cutoff", type=float, default=5.0)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    p.add_argument("--cuda-graph", action="store_true", help="also check CUDA-graph capture of the exported module")
    p.add_argument("--out", default=str(HERE / "results"), help="folder of the result files (default benchmarks/results)")
    p.add_argument("--max-seconds", type=float, default=0,
                   help="start no further size once this many seconds are spent or the next size would pass them "
                        "(estimated linearly from the last one; default 0: no limit)")
    p.add_argument("--memory-child", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_child:
        return peak_memory_child(args.memory_child[0], int(args.memory_child[1]), args)
    device = torch.device(args.device)
    if args.neighbor_crossover:
        return neighbor_crossover(args, device)
    tag = device.type if device.type == "cpu" else torch.cuda.get_device_name(device).replace(" ", "_")
    out_csv = Path(args.out) / f"model_scaling_{tag}{'' if args.path == 'exported' else '_eager'}.csv"
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    extra = {}
    if args.cuda_graph and device.type == "cuda":
        try:
            extra.update(cuda_graph_check(args))
        except Exception as exc:  # recorded; the scaling scan still runs
            extra["cuda_graph_error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    rows, costs = [], []  # costs: seconds spent per finished size (setup, export and timing)
    started = time.perf_counter()
    sizes = sorted(args.sizes)
    for i, n in enumerate(sizes):
        elapsed = time.perf_counter() - started
        expected = expected_cost(n, [r["n_atoms"] for r in rows], costs)
        if rows and args.max_seconds and elapsed + expected > args.max_seconds:
            extra["skipped_sizes"] = sizes[i:]
            extra["skipped_reason"] = (f"time budget: {elapsed:.0f} s spent of --max-seconds {args.max_seconds:g}, "
                                       f"N={n} expected to take about {expected:.0f} s")
            print(extra["skipped_reason"], flush=True)
            break
        t_size = time.perf_counter()
        memory = {}
        try:
            n_atoms, times, cpu = time_pair(n, args, device, memory if device.type == "cuda" else None)
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            extra["oom_at_n"] = n
            extra["oom_error"] = str(exc).splitlines()[0][:200]
            extra["skipped_sizes"] = sizes[i + 1:]
            print(f"N={n}: out of memory; the largest N that fitted is "
                  f"{rows[-1]['n_atoms'] if rows else 'none'}", flush=True)
            gc.collect()
            if device.type == "cuda":
                torch.cuda.empty_cache()
            break
        row = {"n_atoms": n_atoms, "system": args.system, "device": tag, "path": args.path, "width": args.width,
               "heads": args.heads, "cutoff": args.cutoff, "threads": torch.get_num_threads()}
        for name in MODELS:
            row[f"{name}_s"] = times[name]
            row[f"{name}_cpu_s"] = cpu[name]
            if args.no_memory:
                row[f"{name}_peak_mib"] = ""
            elif device.type == "cuda":
                row[f"{name}_peak_mib"] = memory[name]
            else:
                row[f"{name}_peak_mib"] = round(peak_memory(name, n, args), 1)
        # CPU time of this process is insensitive to other processes competing for the cores
        # (with one thread); on a GPU the wall time is the measure.
        t = cpu if device.type == "cpu" else times
        row["ratio"] = t["range-schnet"] / t["schnet"]
        rows.append(row)
        costs.append(time.perf_counter() - t_size)
        last_cost = costs[-1]
        print(f"N={n_atoms:>7}  schnet {times['schnet'] * 1e3:9.1f} ms (cpu {cpu['schnet'] * 1e3:9.1f})  range-schnet "
              f"{times['range-schnet'] * 1e3:9.1f} ms (cpu {cpu['range-schnet'] * 1e3:9.1f})  ratio {row['ratio']:.3f}  "
              f"mem {row['schnet_peak_mib']} / {row['range-schnet_peak_mib']} MiB  ({last_cost:.1f} s)", flush=True)
        summary = write_scaling(out_csv, rows, args, device, extra)
    if not rows:
        write_scaling(out_csv, rows, args, device, extra)
        print(json.dumps(extra, indent=2))
        return 1
    print(json.dumps(summary, indent=2))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 4))
        for name in MODELS:
            col = f"{name}_cpu_s" if device.type == "cpu" else f"{name}_s"
            ax.loglog([r["n_atoms"] for r in rows], [r[col] for r in rows], "o-", label=name)
        ns = [r["n_atoms"] for r in rows]
        ref = rows[0]["schnet_cpu_s" if device.type == "cpu" else "schnet_s"]
        ax.loglog(ns, [ref * n / ns[0] for n in ns], "k:", lw=0.8, label="linear")
        ax.set_xlabel("atoms")
        ax.set_ylabel("forward+backward time (s)" + (", CPU" if device.type == "cpu" else ""))
        ax.set_title(f"{tag}, {args.path}, water {args.system}, width {args.width}, {args.heads} heads, "
                     f"cutoff {args.cutoff} Å", fontsize=8)
        ax.legend()
        fig.tight_layout()
        atomic_write(out_csv.with_suffix(".png"), lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
    except ImportError:
        print("matplotlib not installed: no plot")


if __name__ == "__main__":
    sys.exit(main())
