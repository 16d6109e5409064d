"""RANGE v2 study: learning curves of the paper-form block, the v2 block and plain SchNet 5 Å.

Reads the runs of ``configs/study/range-v2/`` (3,000 dha-xtb structures, 24 epochs, width 64,
seed 0; train them with ``openmm-range train CONFIG --resume``) and writes
``benchmarks/results/range_v2/learning_curves.csv``, ``.png`` and ``summary.md`` (best
validation and test force MAE of each run).

    .venv/bin/python benchmarks/range_v2_study.py
"""
import csv
import json
import sys
from pathlib import Path

from openmm_range.files import atomic_write, write_csv_atomic, write_text_atomic

REPO = Path(__file__).resolve().parents[1]
RUNS = {"range-schnet (paper form)": "range-schnet-paper", "range-schnet (v2)": "range-schnet-v2",
        "schnet 5 Å": "schnet"}
OUT = REPO / "benchmarks" / "results" / "range_v2"


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    rows, summary = [], ["| run | epochs | best val force MAE (meV/Å) | test force MAE (meV/Å) | test energy MAE (meV) | "
                         "wall (min) |", "|---|---|---|---|---|---|"]
    curves = {}
    for label, run in RUNS.items():
        run_dir = REPO / "runs" / "study" / "range-v2" / run
        if not (run_dir / "metrics.csv").exists():
            print(f"{run_dir} has no metrics yet: skipped", file=sys.stderr)
            continue
        with open(run_dir / "metrics.csv") as fh:
            metrics = list(csv.DictReader(fh))
        curves[label] = [(int(r["epoch"]), float(r["val_force_mae_mev_a"]), float(r["train_force_mae_mev_a"])) for r in metrics]
        for r in metrics:
            rows.append({"run": run, "epoch": r["epoch"], "val_force_mae_mev_a": r["val_force_mae_mev_a"],
                         "train_force_mae_mev_a": r["train_force_mae_mev_a"], "val_energy_mae_mev": r["val_energy_mae_mev"],
                         "epoch_s": r["epoch_s"]})
        done = run_dir / "summary.json"
        if done.exists():
            s = json.loads(done.read_text())
            t = s["test"]["all"]
            summary.append(f"| {label} | {s['epochs_run']} | {s['best_val_force_mae_mev_a']:.1f} | "
                           f"{t['force_mae_mev_a']:.1f} | {t['energy_mae_mev']:.1f} | {s['wall_s'] / 60:.0f} |")
        else:
            best = min(c[1] for c in curves[label])
            summary.append(f"| {label} (running) | {len(metrics)} | {best:.1f} | | | |")
    write_csv_atomic(OUT / "learning_curves.csv", rows)
    write_text_atomic(OUT / "summary.md", "\n".join(summary) + "\n")
    print("\n".join(summary))
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    for label, c in curves.items():
        line, = ax.plot([e for e, _, _ in c], [v for _, v, _ in c], "o-", ms=3, label=f"{label} validation")
        ax.plot([e for e, _, _ in c], [t for _, _, t in c], ":", color=line.get_color(), lw=1)
    ax.set_xlabel("epoch")
    ax.set_ylabel("force MAE (meV/Å)")
    ax.set_yscale("log")
    ax.set_title("dha-xtb, 3,000 structures, width 64 (dotted: training)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_write(OUT / "learning_curves.png", lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
