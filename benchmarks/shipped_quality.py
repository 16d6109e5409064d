"""Quality bars of the shipped models, from their training runs' held-out test splits.

Reads ``runs/<name>/summary.json`` (written by the trainer after the last epoch; test
metrics on the run's own test split) for every shipped model that has finished, and
writes ``benchmarks/results/shipped_quality.{md,json}`` with the issue's bars:

* range-schnet force MAE on dha-xtb <= 0.8 x the better of schnet and schnet-long;
* range-painn force MAE < painn (5 Å).

Models whose runs have not finished are listed as missing, never guessed.
"""
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAMES = ("range-schnet", "schnet", "schnet-long", "range-painn", "painn")


def load(name):
    path = ROOT / "runs" / name / "summary.json"
    if not path.exists():
        return None
    summary = json.loads(path.read_text())
    config = json.loads((ROOT / "runs" / name / "config.json").read_text())
    test = summary.get("test", {}).get("all", {})
    return {"name": name, "model": config["model"], "cutoff": config["hyperparameters"].get("cutoff"),
            "data": config["data"], "epochs": summary["epochs_run"], "wall_min": summary["wall_s"] / 60,
            "train_structures": summary["train_structures"], "test_structures": test.get("structures"),
            "energy_mae_mev": test.get("energy_mae_mev"), "force_mae_mev_a": test.get("force_mae_mev_a")}


def main():
    rows = {n: load(n) for n in NAMES}
    done = {n: r for n, r in rows.items() if r}
    bars = []
    baselines = [done[n]["force_mae_mev_a"] for n in ("schnet", "schnet-long") if n in done]
    if "range-schnet" in done and baselines:
        ratio = done["range-schnet"]["force_mae_mev_a"] / min(baselines)
        bars.append({"bar": "range-schnet force MAE <= 0.8 x best SchNet baseline", "value": ratio, "met": ratio <= 0.8,
                     "baselines_available": [n for n in ("schnet", "schnet-long") if n in done]})
    if "range-painn" in done and "painn" in done:
        ratio = done["range-painn"]["force_mae_mev_a"] / done["painn"]["force_mae_mev_a"]
        bars.append({"bar": "range-painn force MAE < painn", "value": ratio, "met": ratio < 1.0})
    missing = [n for n, r in rows.items() if not r]
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "shipped_quality.json").write_text(json.dumps({"models": done, "bars": bars, "missing": missing}, indent=2) + "\n")
    lines = ["# Shipped models: held-out test accuracy", "",
             "| model | architecture | cutoff (Å) | data | epochs | train structures | test structures | energy MAE (meV) | force MAE (meV/Å) | wall (min) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in done.values():
        lines.append(f"| {r['name']} | {r['model']} | {r['cutoff']} | {', '.join(r['data'])} | {r['epochs']} | "
                     f"{r['train_structures']} | {r['test_structures']} | {r['energy_mae_mev']:.1f} | "
                     f"{r['force_mae_mev_a']:.1f} | {r['wall_min']:.0f} |")
    lines += ["", "| bar | value | met |", "|---|---|---|"]
    lines += [f"| {b['bar']} | {b['value']:.3f} | {'yes' if b['met'] else 'NO'} |" for b in bars]
    if missing:
        lines += ["", f"Not trained yet (no finished run): {', '.join(missing)}."]
    (out / "shipped_quality.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
