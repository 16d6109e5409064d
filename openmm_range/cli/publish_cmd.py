"""``openmm-range publish RUN_DIR --name NAME``: best model of a run -> serialized_models/NAME.pt + NAME.md."""
import json
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("publish", help="copy a run's best model into serialized_models/ with a model card")
    p.add_argument("run_dir", help="training run directory (has best_model.pt, config.json, split.json)")
    p.add_argument("--name", required=True, help="published name, e.g. range-schnet")
    p.add_argument("--out-dir", default="serialized_models")
    p.add_argument("--note", help="markdown file whose text is added to the card (e.g. quality-bar results)")
    p.set_defaults(func=run)


def run(args) -> int:
    import torch

    import openmm_range
    from openmm_range.data import concat_datasets, load_dataset
    from openmm_range.training.evaluate import evaluate_model
    from openmm_range.training.model_card import publish

    run_dir = Path(args.run_dir)
    cfg = json.loads((run_dir / "config.json").read_text())
    split = json.loads((run_dir / "split.json").read_text())
    parts = [load_dataset(p, dtype=torch.float64) for p in cfg["data"]]
    data = parts[0] if len(parts) == 1 else concat_datasets(parts)
    # split.json holds indices into the concatenated data (also when a subsample was used)
    model = openmm_range.load_model(run_dir / "best_model.pt")
    test = evaluate_model(model, data, {"test": split["test"]})["test"] if split["test"] else None
    note = Path(args.note).read_text() if args.note else None
    dest = publish(str(run_dir), args.name, args.out_dir, test, note)
    print(f"wrote {dest} and {dest.with_suffix('.md')}")
    return 0
