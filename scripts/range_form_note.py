"""Model-card note: a shipped RANGE model's v2 run against its earlier paper-form (v1) run, same data and budget.

    .venv/bin/python scripts/range_form_note.py runs/range-schnet    # reads runs/range-schnet-v1 too
"""
import json
import sys
from pathlib import Path


def row(label: str, run: Path) -> str:
    s = json.loads((run / "summary.json").read_text())
    cfg = json.loads((run / "config.json").read_text())
    form = cfg["hyperparameters"].get("range_form", "paper")
    per = s.get("test_per_dataset", {})
    dha = next((m["all"]["force_mae_mev_a"] for path, m in per.items() if "dha" in path), float("nan"))
    t = s["test"]["all"]
    return (f"| {label} | {form} | {s['epochs_run']} | {t['force_mae_mev_a']:.1f} | {dha:.1f} | "
            f"{t['energy_mae_mev']:.1f} | {s['wall_s'] / 60:.0f} |")


def main(run_dir: str) -> int:
    run = Path(run_dir)
    old = run.parent / f"{run.name}-v1"
    if not (old / "summary.json").exists():  # no paper-form run trained the same way: nothing to compare
        return 0
    lines = ["## RANGE block: v2 against the paper form (v1), same data, epochs and width", "",
             "| run | form | epochs | test force MAE (meV/Å) | DHA test force MAE (meV/Å) | test energy MAE (meV) | wall (min) |",
             "|---|---|---|---|---|---|---|", row(f"{run} (shipped)", run), row(str(old), old)]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
