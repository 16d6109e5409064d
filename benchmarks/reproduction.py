"""The reproduction study's tables and learning curves (convergence issue, item 3).

Reads every run of ``configs/campaigns/study.yaml`` (finished or not) under ``runs/study/<set>/``
and writes, per study set (``dha``, ``pushpull``), ``benchmarks/results/reproduction/<set>.md``
(the paper's table columns: test energy and force MAE and RMSE, parameters, CPU seconds per
epoch; plus convergence and cost), ``<set>.json`` and ``<set>_curves.png`` (validation force MAE
against epoch and against CPU hours). Convergence: the relative improvement of the best
validation force MAE over the last 20 % of the epochs (target < 2 %).

    .venv/bin/python benchmarks/reproduction.py
"""
import json
import sys
from pathlib import Path
from typing import Dict, List

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from openmm_range.training.history import convergence_gain, lr_halvings, read_metrics  # noqa: E402
OUT = ROOT / "benchmarks" / "results" / "reproduction"
#: the paper's DHA force MAE (meV/Å, SchNet family, DFT labels, 500 epochs, 4 seeds)
PAPER_DHA = {"schnet-5": 40.9, "schnet-12": 36.0, "range-schnet-5": 25.7}


def describe(run: Path, config: Dict) -> Dict:
    from openmm_range import load_model

    rows = read_metrics(run)
    val = np.array([float(r["val_force_mae_mev_a"]) for r in rows])
    cpu = np.array([float(r["epoch_cpu_s"]) for r in rows])
    out = {"run": run.name, "model": config["model"], "epochs": config["epochs"], "epochs_done": len(rows),
           "cutoff": config["hyperparameters"]["cutoff"], "masters": config["hyperparameters"].get("num_master_nodes")
           if config["model"].startswith("range-") else None, "reg_delta": config.get("reg_delta"),
           "model_seed": config.get("model_seed"), "finished": (run / "summary.json").exists(),
           "val_force_mae": val.tolist(), "epoch_cpu_s": cpu.tolist(),
           "cpu_s_per_epoch": float(np.median(cpu)) if len(cpu) else None, "cpu_h": float(cpu.sum() / 3600),
           "best_val_force_mae": float(val.min()) if len(val) else None,
           "lr_halved_at": next((epoch for epoch, _ in lr_halvings(rows)), None),
           "convergence_pct": convergence_gain(val, config["epochs"]) if len(rows) == config["epochs"] else None}
    if (run / "best_model.pt").exists():
        model = load_model(run / "best_model.pt")
        out["parameters"] = int(sum(p.numel() for p in model.parameters()))
    if out["finished"]:
        test = json.loads((run / "summary.json").read_text())["test"]["all"]
        out.update({f"test_{k}": v for k, v in test.items() if k != "structures"})
    return out


def _fmt(value, digits=1):
    return "-" if value is None or (isinstance(value, float) and not np.isfinite(value)) else f"{value:.{digits}f}"


def table(name: str, runs: List[Dict]) -> str:
    lines = [f"# Reproduction study: {name}", "",
             f"Width 64, 3 interactions, the study recipe (configs/study/{name}: AdamW 2e-3, batch 8, cosine, EMA 0.99, "
             "per-atom loss), 50 epochs unless the run's name says otherwise, split 80/10/10 by structure. Test split "
             "metrics of the best-validation weights; meV and meV/Å. CPU: this process's CPU seconds (1 thread); "
             "runs trained before the 2026-12-02 RBF fix cost 2-3.6x what they would now (docs/reproduction.md). "
             "lr halved: the epoch in which the divergence guard halved the learning rate for the rest of the run "
             "(docs/training.md).", "",
             "| run | cutoff (Å) | masters | parameters | epochs | test E MAE | test E RMSE | test F MAE | test F RMSE "
             "| best val F MAE | last-20 % gain (%) | lr halved | CPU s/epoch | CPU-h | paper F MAE |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        state = f"{r['epochs_done']}/{r['epochs']}" + ("" if r["finished"] else " (running)")
        lines.append(f"| {r['run']} | {r['cutoff']:g} | {r['masters'] or '-'} | {r.get('parameters', '-')} | {state} "
                     f"| {_fmt(r.get('test_energy_mae_mev'))} | {_fmt(r.get('test_energy_rmse_mev'))} "
                     f"| {_fmt(r.get('test_force_mae_mev_a'))} | {_fmt(r.get('test_force_rmse_mev_a'))} "
                     f"| {_fmt(r['best_val_force_mae'])} | {_fmt(r['convergence_pct'], 2)} | {r['lr_halved_at'] or '-'} "
                     f"| {_fmt(r['cpu_s_per_epoch'], 0)} | {_fmt(r['cpu_h'], 2)} "
                     f"| {PAPER_DHA.get(r['run'], '-') if name == 'dha' else '-'} |")
    done = {r["run"]: r for r in runs if r["finished"]}
    force = {k: r["test_force_mae_mev_a"] for k, r in done.items()}
    if "range-schnet-5" in force and "schnet-5" in force:
        rng = force["range-schnet-5"]
        lines += ["", f"- range-schnet-5 / schnet-5 test force MAE: {rng / force['schnet-5']:.3f} (target <= 0.8)"]
        longs = [force[k] for k in ("schnet-9", "schnet-12") if k in force]
        if longs:
            lines.append(f"- range-schnet-5 / best long-cutoff SchNet: {rng / min(longs):.3f} (target <= 0.9)")
        lines.append(f"- range-schnet-5 absolute: {rng:.1f} meV/Å (target <= 40, goal 25)")
    for tag, what in (("e100", "100 epochs"), ("seed1", "second seed, 50 epochs")):
        if f"range-schnet-5-{tag}" in force and f"schnet-5-{tag}" in force:
            rng = force[f"range-schnet-5-{tag}"]
            lines.append(f"- {what}: range-schnet-5-{tag} / schnet-5-{tag} test force MAE: "
                         f"{rng / force[f'schnet-5-{tag}']:.3f}; range-schnet-5-{tag} absolute {rng:.1f} meV/Å")
    return "\n".join(lines) + "\n"


def curves(name: str, runs: List[Dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for r in runs:
        if not r["val_force_mae"]:
            continue
        epochs = np.arange(1, len(r["val_force_mae"]) + 1)
        axes[0].semilogy(epochs, r["val_force_mae"], label=r["run"])
        axes[1].semilogy(np.cumsum(r["epoch_cpu_s"]) / 3600, r["val_force_mae"], label=r["run"])
    axes[0].set_xlabel("epoch")
    axes[1].set_xlabel("CPU hours (1 thread)")
    for ax in axes:
        ax.set_ylabel("validation force MAE (meV/Å)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7)
    axes[0].set_title(f"{name}: learning curves")
    fig.tight_layout()
    fig.savefig(path, dpi=120, format="png")
    plt.close(fig)


def main() -> int:
    import yaml

    from openmm_range.serialization import atomic_write
    from openmm_range.training.campaign import read_campaign

    configs = read_campaign(str(ROOT / "configs" / "campaigns" / "study.yaml"))
    by_set: Dict[str, List[Dict]] = {}
    for path in configs:
        config = yaml.safe_load(path.read_text())
        run = ROOT / config["out_dir"]
        if not read_metrics(run):
            continue
        by_set.setdefault(run.parent.name, []).append(describe(run, config))
    OUT.mkdir(parents=True, exist_ok=True)
    for name, runs in by_set.items():
        text = table(name, runs)
        atomic_write(OUT / f"{name}.md", lambda tmp: Path(tmp).write_text(text))
        atomic_write(OUT / f"{name}.json", lambda tmp: Path(tmp).write_text(json.dumps(runs, indent=1) + "\n"))
        atomic_write(OUT / f"{name}_curves.png", lambda tmp: curves(name, runs, tmp))
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
