"""``openmm-range publish RUN_DIR --name NAME``: best model of a run -> serialized_models/NAME.pt + NAME.md."""
import json
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("publish", help="copy a run's best model into serialized_models/ with a model card")
    p.add_argument("run_dir", help="finished training run directory (best_model.pt, summary.json)")
    p.add_argument("--name", required=True, help="published name, e.g. range-schnet")
    p.add_argument("--out-dir", default="serialized_models")
    p.add_argument("--note", help="markdown file whose text is added to the card (e.g. quality-bar results)")
    p.add_argument("--replace", action="store_true",
                   help="replace OUT_DIR/NAME.pt (and its card) when it holds a model published from another run")
    p.add_argument("--card-only", action="store_true",
                   help="rewrite only the card of the model already published as OUT_DIR/NAME.pt, which must be "
                        "this run's best model (the run directory may have moved since)")
    p.set_defaults(func=run)


def run(args) -> int:
    from openmm_range.training.campaign import run_dir_locked
    from openmm_range.training.model_card import publish, refresh_card

    summary_path = Path(args.run_dir) / "summary.json"
    if not summary_path.exists():
        raise FileNotFoundError(f"{summary_path} does not exist: the run has not finished (train it to the end first)")
    summary = json.loads(summary_path.read_text())
    # test metrics were computed by the trainer on the run's own test split, with the data it trained on
    test = summary.get("test")
    note = Path(args.note).read_text() if args.note else None
    if run_dir_locked(Path(args.run_dir)):  # (a resumed run keeps its old summary.json until it ends)
        raise ValueError(f"a training process is still writing {args.run_dir}: publish it once that process has ended")
    if args.card_only:
        dest = refresh_card(args.run_dir, args.name, args.out_dir, test, note)
        print(f"wrote {dest.with_suffix('.md')} ({dest} unchanged)")
        return 0
    _check_run(Path(args.run_dir), summary)
    dest = publish(args.run_dir, args.name, args.out_dir, test, note, replace=args.replace)
    print(f"wrote {dest} and {dest.with_suffix('.md')}")
    return 0


def _check_run(run: Path, summary) -> None:
    """ValueError unless ``run``'s best_model.pt is the one its ``summary``
    describes (written by this run, at its best epoch): a card must not pair one model with
    another's numbers."""
    from openmm_range.serialization import read_metadata
    from openmm_range.training.model_card import published_from

    best = run / "best_model.pt"
    if not best.is_file():
        raise FileNotFoundError(f"{best} does not exist: resume the run (`openmm-range train CONFIG --resume`) to "
                                f"write it again from its checkpoint")
    if not published_from(best, run):
        training = read_metadata(best).get("training", {})
        writer = training.get("config", {}).get("out_dir")
        raise ValueError(f"{best} is not this run's best model (written by run {writer!r} after "
                         f"{training.get('epochs_run')} epochs; the run {str(run)!r} had its best at "
                         f"epoch {summary.get('best_epoch')}): resume the run to write it again")
