"""Quality bars of the shipped models, from their training runs' held-out test splits.

Reads ``runs/<run>/summary.json`` (written by the trainer after the last epoch: test
metrics on the run's own test split, overall and per dataset) for every shipped model
that has finished, plus ``benchmarks/results/dimer_longrange.json`` (written by
``benchmarks/dimer_longrange.py``), and writes ``benchmarks/results/shipped_quality.{md,json}``
with the issue's bars:

* range-schnet force MAE on the dha-xtb test structures <= 0.8 x the better of schnet and
  schnet-long on the same structures;
* dimers: the RANGE model's interaction-energy error beyond its cutoff < its baseline's;
* range-painn force MAE < painn (5 Å), overall test split.

Models whose runs have not finished are listed as missing, never guessed. Each model is read
from the current set's finished run (runs/shipped/), else from the run whose best model is the
shipped file (wherever that run directory now is); ``--runs`` only lists them.
"""
import json
import subprocess
import sys
from pathlib import Path

from openmm_range.files import write_text_atomic
from openmm_range.serialization import read_metadata
from openmm_range.training.model_card import published_from

ROOT = Path(__file__).resolve().parent.parent
#: shipped name -> run directory (schnet-long: the chosen candidate, see scripts/select_schnet_long.py)
NAMES = ("range-schnet", "schnet", "schnet-long", "range-painn", "painn")
DHA = "data/dha-xtb"
#: runs trained beside the shipped set to read its bars, never published: name -> what it controls for
CONTROLS = {"schnet-wide": "SchNet 5 Å with range-schnet's parameter count (configs/schnet-wide.yaml)"}


def _candidates(name: str):
    """Every run directory a model of ``name`` may come from, older sets included."""
    names = [f"schnet-long-{c}" for c in (7, 9, 12)] if name == "schnet-long" else [name]
    return [ROOT / "runs" / where / n for where in ("shipped", "shipped-e40", ".") for n in names]


def _shipped_run(name: str):
    """The finished run that serialized_models/<name>.pt is the best model of (the run directory
    may have moved since it was published), or None."""
    model = ROOT / "serialized_models" / f"{name}.pt"
    return next((run.resolve() for run in _candidates(name) if published_from(model, run)), None)


def run_dir(name: str):
    """The run to report for ``name``: the current set's finished run (runs/shipped/; schnet-long:
    the candidate scripts/select_schnet_long.py chooses), else the run of the shipped model file."""
    if name == "schnet-long":
        res = subprocess.run([sys.executable, str(ROOT / "scripts" / "select_schnet_long.py"), "--allow-missing"],
                             capture_output=True, text=True, cwd=ROOT)
        if res.returncode == 0:
            return Path(res.stdout.strip()).resolve()
        print(f"scripts/select_schnet_long.py failed ({res.stderr.strip().splitlines()[-1:] or 'no message'}): "
              f"reporting the run of the shipped schnet-long file instead", file=sys.stderr)
    elif (ROOT / "runs" / "shipped" / name / "summary.json").exists():
        return (ROOT / "runs" / "shipped" / name).resolve()
    return _shipped_run(name)


def data_hash(name: str, run: Path):
    """Content hash of the data ``run`` trained on (from its best_model.pt, or from the shipped
    model if it is this run's best model); None if neither says."""
    if (run / "best_model.pt").exists():
        return read_metadata(run / "best_model.pt").get("training_data_hash")
    shipped = ROOT / "serialized_models" / f"{name}.pt"
    return read_metadata(shipped).get("training_data_hash") if published_from(shipped, run) else None


def _hash_text(name: str, run: Path) -> str:
    digest = data_hash(name, run)
    return digest[:12] if digest else f"unknown (run {run.relative_to(ROOT)})"


def load(name):
    run = run_dir(name)
    if run is None or not (run / "summary.json").exists():
        return None
    summary = json.loads((run / "summary.json").read_text())
    config = json.loads((run / "config.json").read_text())
    test = summary.get("test", {}).get("all", {})
    dha = summary.get("test_per_dataset", {}).get(DHA, {}).get("all", {})
    return {"name": name, "run": str(run.relative_to(ROOT)), "model": config["model"],
            "cutoff": config["hyperparameters"].get("cutoff"), "data": config["data"],
            # models are comparable (a bar) only when trained on the same data for as long
            # (the data hash too: a dataset of the same name may have been regenerated in between)
            # (an unknown hash makes the set the run's own: never compared)
            "training_set": f"{', '.join(config['data'])} (max_structures {config.get('max_structures')}, "
                            f"{config.get('epochs')} epochs, data hash {_hash_text(name, run)})",
            "epochs": summary["epochs_run"], "wall_min": summary["wall_s"] / 60,
            "train_structures": summary["train_structures"], "test_structures": test.get("structures"),
            "energy_mae_mev": test.get("energy_mae_mev"), "force_mae_mev_a": test.get("force_mae_mev_a"),
            "dha_test_structures": dha.get("structures"), "dha_force_mae_mev_a": dha.get("force_mae_mev_a")}


def fmt(x, spec=".1f"):
    return "-" if x is None else format(x, spec)


def main():
    rows = {n: load(n) for n in NAMES}
    done = {n: r for n, r in rows.items() if r}
    controls = {n: r for n, r in ((n, load(n)) for n in CONTROLS) if r}
    shown = {**done, **controls}  # the table's rows; bars compare rows of one training set
    bars = []
    def same_set(a, b):
        return a in shown and b in shown and shown[a]["training_set"] == shown[b]["training_set"]

    baselines = {n: done[n]["dha_force_mae_mev_a"] for n in ("schnet", "schnet-long")
                 if same_set(n, "range-schnet") and done[n]["dha_force_mae_mev_a"] is not None}
    if "range-schnet" in done and done["range-schnet"]["dha_force_mae_mev_a"] is not None and baselines:
        best = min(baselines, key=baselines.get)
        ratio = done["range-schnet"]["dha_force_mae_mev_a"] / baselines[best]
        bars.append({"bar": f"range-schnet DHA force MAE <= 0.8 x best SchNet baseline ({best})", "value": ratio,
                     "met": ratio <= 0.8, "baselines_available": sorted(baselines)})
    for name, what in CONTROLS.items():  # a ratio to read the bar by, not a bar ("met": None)
        if same_set(name, "range-schnet") and controls[name]["dha_force_mae_mev_a"] is not None:
            ratio = done["range-schnet"]["dha_force_mae_mev_a"] / controls[name]["dha_force_mae_mev_a"]
            bars.append({"bar": f"control: range-schnet DHA force MAE / {name}, {what}", "value": ratio, "met": None})
    dimers_path = ROOT / "benchmarks" / "results" / "dimer_longrange.json"
    if dimers_path.exists():
        for b in json.loads(dimers_path.read_text()).get("bars", []):
            pair = b["bar"].split(" E_int")[0], b["bar"].split(" x ")[-1].split()[0]  # (RANGE model, baseline)
            caveat = "" if same_set(*pair) else (
                f"; {pair[0]} and {pair[1]} trained on different sets, which matters little here: "
                f"a {pair[1]} predicts E_int = 0 beyond its cutoff whatever its data")
            bars.append({"bar": f"dimers: {b['bar']} ({b['n']} test dimers; RANGE/baseline MAE ratio{caveat})",
                         "value": b["range_mev"] / b["baseline_mev"], "met": b["met"]})
    if same_set("range-painn", "painn"):
        ratio = done["range-painn"]["force_mae_mev_a"] / done["painn"]["force_mae_mev_a"]
        bars.append({"bar": "range-painn force MAE < painn (all test structures)", "value": ratio, "met": ratio < 1.0})
        dha = [done[n]["dha_force_mae_mev_a"] for n in ("range-painn", "painn")]
        if None not in dha:  # the DHA ratio the SchNet bar reads, for the PaiNN pair (not a bar)
            bars.append({"bar": "range-painn DHA force MAE / painn", "value": dha[0] / dha[1], "met": None})
    not_comparable = [f"{a} vs {b}" for a, b in (("range-schnet", "schnet"), ("range-schnet", "schnet-long"),
                                                 ("range-painn", "painn"))
                      if a in done and b in done and not same_set(a, b)]
    missing = [n for n, r in rows.items() if not r]
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "shipped_quality.json", json.dumps({"models": done, "controls": controls, "bars": bars,
                                                         "missing": missing,
                                                         "not_comparable": not_comparable}, indent=2) + "\n")
    sets = list(dict.fromkeys(r["training_set"] for r in shown.values()))
    lines = ["# Shipped models: held-out test accuracy", "",
             "| model | run | training set | cutoff (Å) | epochs | train structures | test structures | "
             "energy MAE (meV) | force MAE (meV/Å) | DHA test force MAE (meV/Å) | wall (min) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in shown.values():
        lines.append(f"| {r['name']}{' (control)' if r['name'] in controls else ''} | {r['run']} | {chr(65 + sets.index(r['training_set']))} | {r['cutoff']} | "
                     f"{r['epochs']} | {r['train_structures']} | {r['test_structures']} | {fmt(r['energy_mae_mev'])} | "
                     f"{fmt(r['force_mae_mev_a'])} | {fmt(r['dha_force_mae_mev_a'])} | {r['wall_min']:.0f} |")
    lines += [""] + [f"Training set {chr(65 + k)}: {t}." for k, t in enumerate(sets)]
    lines += ["Bars compare only models of one training set (the same data, subsample and epochs)."]
    if not_comparable:
        lines += [f"Not compared (different training sets): {', '.join(not_comparable)}."]
    lines += ["", "| bar | value | met |", "|---|---|---|"]
    lines += [f"| {b['bar']} | {b['value']:.3f} | {'-' if b['met'] is None else 'yes' if b['met'] else 'NO'} |"
              for b in bars]
    if missing:
        lines += ["", f"Not trained yet (no finished run): {', '.join(missing)}."]
    write_text_atomic(out / "shipped_quality.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


def unfinished_runs():
    """Run directories under runs/shipped/ that a trainer holds or that have no summary.json yet
    (still training, or stopped part-way)."""
    from openmm_range.training.campaign import run_dir_locked

    shipped = ROOT / "runs" / "shipped"
    return [run for run in sorted(shipped.iterdir()) if run.is_dir() and (run / "config.json").exists()
            and (run_dir_locked(run) or not (run / "summary.json").exists())] if shipped.is_dir() else []


def list_runs() -> None:
    """Print ``NAME RUN MODE`` for each shipped name with a finished run (for scripts/publish_shipped.sh):
    MODE ``card`` when serialized_models/NAME.pt is that run's best model already (only its card is
    rewritten), else ``publish``. Exits 1 while a run of the current set is unfinished, so that a
    pair (range-painn and painn) is never published half from the new set and half from the old."""
    unfinished = unfinished_runs()
    if unfinished:
        sys.exit(f"not publishing: {', '.join(str(r.relative_to(ROOT)) for r in unfinished)} unfinished "
                 f"(no summary.json yet, or a trainer still holds it); finish them first "
                 f"(openmm-range campaign status configs/campaigns/shipped.yaml), or move them out of runs/shipped/")
    for name in NAMES:
        run = run_dir(name)
        if run is None:
            continue
        mode = "card" if published_from(ROOT / "serialized_models" / f"{name}.pt", run) else "publish"
        print(name, run.relative_to(ROOT), mode)


if __name__ == "__main__":
    list_runs() if sys.argv[1:] == ["--runs"] else main()
