"""Publish a trained model: copy it into serialized_models/ and write its model card."""
import json
from pathlib import Path
from typing import Dict, Optional

from ..elements import symbol
from ..serialization import atomic_write, load_model, save_model

LIMITS = """\
- Trained on gas-phase GFN2-xTB (tblite) labels, not DFT: it reproduces GFN2-xTB, including its
  errors, at best. Compare with the paper's DFT-trained numbers only qualitatively.
- Elements outside the list above are refused. Total charge and spin are not inputs: charged and
  neutral species of the same composition are not distinguished.
- RANGE attends within one molecule / ML region; it does not see periodic images. Periodic use
  assumes the ML region spans less than half the box.
- Molecule sizes outside [N_min, N_max] are extrapolation (the master-node regulariser clamps).
"""


RANGE_LIMITS = """\
- The master nodes attend over every atom of the ML region: two molecules far apart are not
  additive (E(A + B) != E(A) + E(B) even at 100 Å) unless the training data taught it; see
  docs/architecture.md. Do not compute interaction or binding energies by subtraction.
"""


def _subsample_text(cfg: Dict) -> str:
    limit = cfg.get("max_structures")
    if not limit:
        return ""
    if isinstance(limit, list):
        parts = [f"{m} of {path}" if m else f"all of {path}" for path, m in zip(cfg.get("data", []), limit)]
        return "; random subsample: " + ", ".join(parts)
    return f"; random subsample of {limit} structures"


def write_card(name: str, model_path: Path, run_dir: Path, test: Dict, extra: Optional[str] = None) -> str:
    model = load_model(model_path)
    meta = model.metadata
    train = meta.get("training", {})
    cfg = train.get("config", {})
    summary = json.loads((run_dir / "summary.json").read_text()) if (run_dir / "summary.json").exists() else {}
    hp = meta["hyperparameters"]
    rows = "\n".join(f"| {k} | {v} |" for k, v in sorted(hp.items()) if k != "extra")
    a = test.get("all", {})
    per_el = ", ".join(f"{el}: {v['force_mae_mev_a']:.1f}" for el, v in test.get("per_element", {}).items())
    lines = [
        f"# Model card: `{name}`",
        "",
        f"Architecture `{meta['name']}`, cutoff {meta['cutoff']} Å, file `{model_path.name}`, "
        f"openmm-range {meta['package_version']}.",
        "",
        "## Use",
        "",
        f"```python\nfrom openmmml import MLPotential\npotential = MLPotential('{name}')\n"
        "system = potential.createSystem(topology)\n```",
        "",
        "## Training data",
        "",
        f"- datasets: {', '.join(cfg.get('data', []))}",
        f"- content hash (SHA-256 of structures and labels): `{meta.get('training_data_hash')}`",
        f"- structures used: {summary.get('train_structures', '?')} for training; split {cfg.get('split')} "
        f"by {cfg.get('split_by')}, seed {cfg.get('seed')}"
        + _subsample_text(cfg),
        f"- elements: {', '.join(symbol(z) for z in meta['elements'])}",
        f"- N_min / N_max (atoms): {meta['n_min']} / {meta['n_max']}",
        "",
        "## Training",
        "",
        f"- epochs run: {summary.get('epochs_run', train.get('epochs_run'))} (best validation epoch "
        f"{summary.get('best_epoch')}), wall time {summary.get('wall_s', train.get('wall_s', 0)) / 60:.1f} min on "
        f"{train.get('hardware')}, torch {train.get('torch')}",
        f"- recipe: AdamW lr {cfg.get('lr')}, weight decay {cfg.get('weight_decay')}, batch {cfg.get('batch_size')}, "
        f"alpha {cfg.get('alpha_initial')} -> {cfg.get('alpha_final')} at epoch {cfg.get('alpha_switch_epoch')}, "
        f"delta {cfg.get('reg_delta')}, step schedules gamma {cfg.get('lr_gamma')} every "
        f"{cfg.get('lr_step_network')}/{cfg.get('lr_step_lambda')}/{cfg.get('lr_step_ab')} epochs, {cfg.get('dtype')}",
        "",
        "## Hyperparameters",
        "",
        "| name | value |",
        "|---|---|",
        rows,
        "",
        "## Test-set accuracy (held out, GFN2-xTB reference)",
        "",
        f"- structures: {a.get('structures')}",
        f"- energy MAE {a.get('energy_mae_mev', float('nan')):.2f} meV, RMSE {a.get('energy_rmse_mev', float('nan')):.2f} meV",
        f"- force MAE {a.get('force_mae_mev_a', float('nan')):.2f} meV/Å, RMSE {a.get('force_rmse_mev_a', float('nan')):.2f} meV/Å",
        f"- force MAE per element (meV/Å): {per_el}",
        "",
    ]
    per_dataset = summary.get("test_per_dataset") or {}
    if per_dataset:
        lines += ["Per dataset (its structures in the test split):", "",
                  "| dataset | structures | energy MAE (meV) | force MAE (meV/Å) |", "|---|---|---|---|"]
        lines += [f"| {path} | {m['all']['structures']} | {m['all'].get('energy_mae_mev', float('nan')):.2f} | "
                  f"{m['all'].get('force_mae_mev_a', float('nan')):.2f} |" for path, m in per_dataset.items()]
        lines.append("")
    if extra:
        lines += [extra.strip(), ""]
    elements = ", ".join(symbol(z) for z in meta["elements"])
    lines += ["## Intended use and known limits", "", f"Molecular dynamics of molecules made of {elements} "
              "like those of the training data, in the gas phase or as the ML region of ML/MM systems.", "", LIMITS]
    if meta["name"].startswith("range-"):
        lines.append(RANGE_LIMITS)
    return "\n".join(lines)


def publish(run_dir: str, name: str, out_dir: str = "serialized_models", test: Optional[Dict] = None,
            extra: Optional[str] = None) -> Path:
    """Copy ``run_dir/best_model.pt`` to ``out_dir/<name>.pt`` and write ``out_dir/<name>.md``."""
    run = Path(run_dir)
    src = run / "best_model.pt"
    if not src.exists():
        raise FileNotFoundError(f"{src} does not exist: train first (openmm-range train ...)")
    model = load_model(src)
    model.metadata["published_name"] = name
    if test is not None:
        model.metadata["test_metrics"] = test.get("all", {})
    dest = Path(out_dir) / f"{name}.pt"
    save_model(model, dest)
    card = write_card(name, dest, run, test or {}, extra)
    atomic_write(Path(out_dir) / f"{name}.md", lambda tmp: Path(tmp).write_text(card))
    return dest
