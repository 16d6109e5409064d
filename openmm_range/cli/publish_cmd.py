"""``openmm-range publish RUN_DIR --name NAME``: best model of a run -> serialized_models/NAME.pt + NAME.md."""
import json
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("publish", help="copy a run's best model into serialized_models/ with a model card")
    p.add_argument("run_dir", help="finished training run directory (best_model.pt, summary.json)")
    p.add_argument("--name", required=True, help="published name, e.g. range-schnet")
    p.add_argument("--out-dir", default="serialized_models")
    p.add_argument("--note", help="markdown file whose text is added to the card (e.g. quality-bar results)")
    p.set_defaults(func=run)


def run(args) -> int:
    from openmm_range.training.model_card import publish

    summary_path = Path(args.run_dir) / "summary.json"
    if not summary_path.exists():
        raise FileNotFoundError(f"{summary_path} does not exist: the run has not finished (train it to the end first)")
    # test metrics were computed by the trainer on the run's own test split, with the data it trained on
    test = json.loads(summary_path.read_text()).get("test")
    note = Path(args.note).read_text() if args.note else None
    dest = publish(args.run_dir, args.name, args.out_dir, test, note)
    print(f"wrote {dest} and {dest.with_suffix('.md')}")
    return 0
