"""Learning curves of the training recipes (convergence issue, item 1): SchNet 5 Å on the same
3,000 dha-xtb structures and split, validation force MAE against epoch and against CPU seconds.

Today's recipe is ``runs/study/range-v2/schnet`` (24 epochs); its CPU seconds per epoch come from
``runs/study/recipe/schnet-today``, the same run repeated with CPU-time accounting (its first
epochs reproduce range-v2/schnet's numbers exactly; it was stopped once the per-epoch cost was
known). Each new-recipe run records ``epoch_cpu_s`` itself. The target: a new recipe reaches
today's 24-epoch validation force MAE within 1/3 of today's CPU time. Writes
``benchmarks/results/recipe/learning_curves.{png,csv}`` and ``summary.md``.

    .venv/bin/python benchmarks/recipe_curves.py
"""
import csv
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TODAY, TODAY_CPU = ROOT / "runs/study/range-v2/schnet", ROOT / "runs/study/recipe/schnet-today"
NEW = sorted((ROOT / "runs/study/recipe").glob("schnet-new*"))
OUT = ROOT / "benchmarks/results/recipe"


def rows(run: Path):
    with open(run / "metrics.csv") as handle:
        return list(csv.DictReader(handle))


def curve(run: Path, cpu_per_epoch=None):
    data = rows(run)
    epochs = np.array([int(r["epoch"]) for r in data])
    val = np.array([float(r["val_force_mae_mev_a"]) for r in data])
    cpu = np.array([float(r["epoch_cpu_s"]) if r.get("epoch_cpu_s") else cpu_per_epoch for r in data])
    return epochs, val, np.cumsum(cpu)


def main():
    sys.path.insert(0, str(ROOT))
    from openmm_range.serialization import atomic_write

    today_cost = float(np.median([float(r["epoch_cpu_s"]) for r in rows(TODAY_CPU)]))
    curves = {"today (step decay, paper loss)": curve(TODAY, today_cost)}
    for run in NEW:
        curves[run.name] = curve(run)
    target = curves["today (step decay, paper loss)"][1][-1]
    budget = curves["today (step decay, paper loss)"][2][-1]
    lines = ["# Training recipes: SchNet 5 Å on 3,000 dha-xtb structures (same split, width 64)", "",
             f"Today's recipe reaches {target:.1f} meV/Å after 24 epochs and {budget:.0f} CPU s "
             f"({today_cost:.1f} CPU s per epoch, median of {len(rows(TODAY_CPU))} measured epochs). "
             f"Target: the same error within {budget / 3:.0f} CPU s (1/3).", "",
             "| run | epochs | best val force MAE (meV/Å) | CPU s | CPU s to reach today's 24-epoch error | target met |",
             "|---|---|---|---|---|---|"]
    table = []
    for name, (epochs, val, cpu) in curves.items():
        reach = np.flatnonzero(val <= target)
        t = float(cpu[reach[0]]) if len(reach) else None
        met = t is not None and t <= budget / 3
        verdict = "reference" if name.startswith("today") else ("yes" if met else "NO")
        lines.append(f"| {name} | {epochs[-1]} | {val.min():.1f} | {cpu[-1]:.0f} | "
                     f"{'-' if t is None else f'{t:.0f}'} | {verdict} |")
        table += [{"run": name, "epoch": int(e), "val_force_mae_mev_a": float(v), "cpu_s": float(c)}
                  for e, v, c in zip(epochs, val, cpu)]
    OUT.mkdir(parents=True, exist_ok=True)

    def write_csv(tmp):
        with open(tmp, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(table[0]))
            w.writeheader()
            w.writerows(table)

    atomic_write(OUT / "learning_curves.csv", write_csv)
    atomic_write(OUT / "summary.md", lambda tmp: Path(tmp).write_text("\n".join(lines) + "\n"))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name, (epochs, val, cpu) in curves.items():
        axes[0].plot(epochs, val, "o-", ms=3, label=name)
        axes[1].plot(cpu, val, "o-", ms=3, label=name)
    for ax, label in zip(axes, ("epoch", "CPU seconds (1 thread)")):
        ax.axhline(target, color="grey", lw=0.6)
        ax.set_xlabel(label)
        ax.set_ylabel("validation force MAE (meV/Å)")
        ax.set_yscale("log")
    axes[1].axvline(budget / 3, color="grey", lw=0.6, ls="--")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    atomic_write(OUT / "learning_curves.png", lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
