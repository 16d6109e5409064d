"""Publish a trained model: copy it into serialized_models/ and write its model card."""
import json
from pathlib import Path
from typing import Dict, List, Optional

from ..elements import symbol
from ..serialization import atomic_write, load_model, save_model
from .history import convergence_gain, lr_halvings, read_metrics

XTB_LIMIT = """\
- Trained on gas-phase GFN2-xTB (tblite) labels, not DFT: it reproduces GFN2-xTB, including its
  errors, at best. Compare with the paper's DFT-trained numbers only qualitatively.
"""
LIMITS = """\
- Elements outside the list above are refused. Spin is not an input.
- Molecule sizes outside [N_min, N_max] are extrapolation (the master-node regulariser clamps).
"""


#: hyperparameters that only RANGE models use (left out of a base model's card)
RANGE_ONLY = {"num_heads", "num_master_nodes", "num_master_rbf", "master_smooth_width", "attention_activation",
              "range_form", "range_scope"}


def _charge_text(meta: Dict, uses_charge: bool) -> str:
    """What the card says of total charge: whether the model reads it, and which charges it accepts."""
    charges = list(meta.get("charges") or [0])
    if uses_charge:
        if charges == [0]:
            return "- Trained on neutral molecules only: `charge` (openmm-ml's argument) other than 0 is refused.\n"
        return (f"- Total charge is an input (openmm-ml's `charge`, or `moleculeCharges` per molecule); the "
                f"charges seen in training, {charges}, are accepted and any other is refused.\n")
    if charges == [0]:
        return ("- Total charge is not an input of this model: `charge` (openmm-ml's argument) other than 0 is "
                "refused.\n")
    return (f"- Total charge is not an input of this model: its energy is the same whatever the charge. Its "
            f"training data held molecules of total charge {charges}, learnt without being told the charge; "
            f"`charge` (openmm-ml's argument) accepts those values and refuses any other.\n")


def _range_text(hp: Dict) -> str:
    if hp.get("range_scope", "molecule") == "molecule":
        head = hp.get("long_range", "none")
        between = ("molecules interact through the learned Coulomb and dispersion head "
                   "(docs/architecture.md)" if head == "coulomb-dispersion" else
                   "molecules far apart do not interact")
        return ("- The master nodes attend within each molecule (bonded component of the topology); "
                f"{between}. Energies of molecules far apart are additive.\n"
                "- RANGE does not see periodic images. Periodic use assumes each molecule spans less than "
                "half the box.\n")
    return ("- The master nodes attend over every atom of the ML region: two molecules far apart are not\n"
            "  additive (E(A + B) != E(A) + E(B) even at 100 Å). Do not compute interaction or binding\n"
            "  energies by subtraction.\n"
            "- RANGE does not see periodic images. Periodic use assumes the ML region spans less than half the box.\n")


def _recipe_text(cfg: Dict) -> str:
    base = (f"AdamW lr {cfg.get('lr')}, weight decay {cfg.get('weight_decay')}, batch {cfg.get('batch_size')}, "
            f"{cfg.get('dtype')}")
    if cfg.get("schedule") == "cosine":
        lr_min = float(cfg.get("lr", 0.0)) * float(cfg.get("lr_min_factor", 0.0))
        text = (f"{base}; {cfg.get('warmup_epochs', 0):g} epoch(s) of warm-up, then cosine decay to {lr_min:.2g}; "
                f"EMA of the weights {cfg.get('ema_decay')}; loss {cfg.get('loss')} (energy weight "
                f"{cfg.get('energy_weight')}, force weight {cfg.get('force_weight')}); gradient clip {cfg.get('grad_clip')}")
    else:
        text = (f"{base}; alpha {cfg.get('alpha_initial')} -> {cfg.get('alpha_final')} at epoch "
                f"{cfg.get('alpha_switch_epoch')}, step schedules gamma {cfg.get('lr_gamma')} every "
                f"{cfg.get('lr_step_network')}/{cfg.get('lr_step_lambda')}/{cfg.get('lr_step_ab')} epochs")
    text += f"; regulariser delta {cfg.get('reg_delta')}"
    if cfg.get("init_from"):
        text += f"; fine-tuned: started from the weights of {cfg['init_from']}"
    if cfg.get("keep_split"):
        text += f"; the structures of {cfg['keep_split']} keep their train/validation/test parts there"
    return text


def _label_methods(cfg: Dict) -> List[str]:
    """The reference method of each training dataset: a generated dataset's meta.json names it;
    for any other file (or one not present here) it is not known."""
    from ..data.store import is_dataset_dir, read_meta

    methods = []
    for path in cfg.get("data", []):
        try:
            methods.append(read_meta(path)["label"]["method"] if is_dataset_dir(path) else f"as stored in {path}")
        except (OSError, ValueError, KeyError, TypeError):
            methods.append(f"as stored in {path}")
    return methods


def _label_limit(methods: List[str]) -> str:
    if methods and set(methods) == {"GFN2-xTB"}:
        return XTB_LIMIT
    return (f"- Trained on the labels of its datasets ({'; '.join(dict.fromkeys(methods)) or 'not recorded'}): it "
            f"reproduces them, including their errors, at best.\n")


def _curve_text(run_dir: Path, cfg: Dict) -> List[str]:
    rows = read_metrics(run_dir)
    val = [float(r["val_force_mae_mev_a"]) for r in rows]
    if not val:
        return []
    halved = lr_halvings(rows)
    guard = [] if not halved else [
        f"- divergence guard: the learning rate was first halved in epoch {halved[0][0]}; its scale "
        f"at the last epoch: x{halved[-1][1]:g} of the schedule above (docs/training.md)"]
    try:  # the run's config as last resumed (best_model.pt holds the one of its best epoch)
        epochs = int(json.loads((run_dir / "config.json").read_text())["epochs"])
    except (OSError, ValueError, KeyError, TypeError):
        epochs = int(cfg.get("epochs", len(val)))
    gain = convergence_gain(val, epochs)
    conv = ("" if gain != gain else f"; the best validation error improved by {gain:.2f} % over the last 20 % "
            f"of the {epochs} epochs ({'converged' if gain < 2 else 'not converged'} by the < 2 % criterion)")
    picks = sorted({1, len(val) // 4, len(val) // 2, 3 * len(val) // 4, len(val)} - {0})
    return ["- validation force MAE (meV/Å) by epoch: " + ", ".join(f"{k}: {val[k - 1]:.1f}" for k in picks)
            + conv] + guard


def _potential_call(name: str, meta: Dict, model_path: Path) -> str:
    """How a user loads the published file: by its name if it is a potential name, else by modelPath."""
    from ..registry import POTENTIAL_NAMES

    if name in POTENTIAL_NAMES:
        return f"MLPotential('{name}')"
    return f"MLPotential('{meta['name']}', modelPath='{model_path.as_posix()}')"


def curve_file(model_path: Path) -> Path:
    """Where a published model's learning-curve figure lies: beside it, ``<name>_learning_curves.png``."""
    return model_path.with_name(f"{model_path.stem}_learning_curves.png")


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
    hidden = {"extra"} | (set() if meta["name"].startswith("range-") else RANGE_ONLY)
    rows = "\n".join(f"| {k} | {v} |" for k, v in sorted(hp.items()) if k not in hidden)
    a = test.get("all", {})
    labels = _label_limit(_label_methods(cfg))
    per_el = ", ".join(f"{el}: {v['force_mae_mev_a']:.1f}" for el, v in test.get("per_element", {}).items())
    lines = [
        f"# Model card: `{name}`",
        "",
        f"Architecture `{meta['name']}`, cutoff {meta['cutoff']} Å, file `{model_path.name}`, "
        f"openmm-range {meta['package_version']}.",
        "",
        "## Use",
        "",
        f"```python\nfrom openmmml import MLPotential\npotential = {_potential_call(name, meta, model_path)}\n"
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
        f"- recipe: {_recipe_text(cfg)}",
        *_curve_text(run_dir, cfg),
        *(["", f"![learning curves]({curve_file(model_path).name})"] if curve_file(model_path).exists() else []),
        "",
        "## Hyperparameters",
        "",
        "| name | value |",
        "|---|---|",
        rows,
        "",
        f"## Test-set accuracy (held out, {'GFN2-xTB' if labels == XTB_LIMIT else 'dataset'} reference)",
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
              "like those of the training data, in the gas phase or as the ML region of ML/MM systems.", "",
              labels + LIMITS + _charge_text(meta, model.use_charge) + (_range_text(hp) if meta["name"].startswith("range-") else "")]
    return "\n".join(lines)


def published_from(model_path: Path, run_dir: Path) -> bool:
    """Whether ``model_path`` is the best model of the finished run ``run_dir``: written after the
    run's best epoch with the run's best validation error (also true after the run directory moved)."""
    from ..serialization import read_metadata

    summary_path = Path(run_dir) / "summary.json"
    if not Path(model_path).is_file() or not summary_path.is_file():
        return False
    summary = json.loads(summary_path.read_text())
    training = read_metadata(model_path).get("training", {})
    best_val = (training.get("best_val") or {}).get("val_force_mae_mev_a")
    epoch, val = summary.get("best_epoch"), summary.get("best_val_force_mae_mev_a")
    return None not in (epoch, val) and training.get("epochs_run") == epoch and best_val == val


def _write_card_files(name: str, dest: Path, run: Path, test: Optional[Dict], extra: Optional[str]) -> Path:
    """The card of the model file ``dest`` (``<name>.md`` beside it) and the run's learning curve
    (a figure left from a model published there before is removed when this run has none)."""
    if (run / "learning_curves.png").exists():
        data = (run / "learning_curves.png").read_bytes()
        atomic_write(curve_file(dest), lambda tmp: Path(tmp).write_bytes(data))
    else:
        curve_file(dest).unlink(missing_ok=True)
    card = write_card(name, dest, run, test or {}, extra)
    atomic_write(dest.with_suffix(".md"), lambda tmp: Path(tmp).write_text(card))
    return dest


def refresh_card(run_dir: str, name: str, out_dir: str = "serialized_models", test: Optional[Dict] = None,
                 extra: Optional[str] = None) -> Path:
    """Rewrite the card of the model already published as ``out_dir/<name>.pt`` (the file itself is
    left as it is), e.g. with new quality bars; ValueError unless it is ``run_dir``'s best model."""
    run, dest = Path(run_dir), Path(out_dir) / f"{name}.pt"
    if not dest.is_file():
        raise FileNotFoundError(f"{dest} does not exist: publish the run first (without --card-only)")
    if not published_from(dest, run):
        raise ValueError(f"{dest} is not the best model of run {str(run)!r} (epoch and validation error differ): "
                         "a card must not pair one model with another's numbers")
    return _write_card_files(name, dest, run, test, extra)


def publish(run_dir: str, name: str, out_dir: str = "serialized_models", test: Optional[Dict] = None,
            extra: Optional[str] = None, replace: bool = False) -> Path:
    """Copy ``run_dir/best_model.pt`` to ``out_dir/<name>.pt`` and write ``out_dir/<name>.md``.

    ValueError if ``name`` is a potential name of another architecture (``MLPotential(name)`` would
    refuse the file), or if ``out_dir/<name>.pt`` holds another run's model and ``replace`` is False."""
    from ..registry import POTENTIAL_NAMES, architecture_of

    run = Path(run_dir)
    src = run / "best_model.pt"
    if not src.exists():
        raise FileNotFoundError(f"{src} does not exist: train first (openmm-range train ...)")
    model = load_model(src)
    if name in POTENTIAL_NAMES and architecture_of(name) != model.metadata["name"]:
        raise ValueError(f"--name {name!r} is the potential name of a {architecture_of(name)!r} model, but run "
                         f"{run_dir} trained a {model.metadata['name']!r} model; choose another name")
    dest = Path(out_dir) / f"{name}.pt"
    if dest.exists() and not replace and not published_from(dest, run):
        raise ValueError(f"{dest} already holds a model published from another run: give --replace to replace "
                         f"it (and its card), or another --name")
    model.metadata["published_name"] = name
    if test is not None:
        model.metadata["test_metrics"] = test.get("all", {})
    save_model(model, dest)
    return _write_card_files(name, dest, run, test, extra)
