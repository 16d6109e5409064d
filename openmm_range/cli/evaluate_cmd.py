"""``openmm-range evaluate MODEL DATASET``: energy/force MAE and RMSE per split, element and size."""
import json
from pathlib import Path

from openmm_range.cli import positive_int


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="energy and force errors of a model on a dataset")
    p.add_argument("model", help="model file (save_model format, e.g. runs/x/best_model.pt) or a shipped name")
    p.add_argument("dataset", nargs="*", help="dataset path(s), concatenated in order as in training")
    p.add_argument("--splits", help="split.json of a training run that used whole datasets: report "
                                    "train/val/test separately (a subsampled run needs --run)")
    p.add_argument("--run", help="a training run directory instead of DATASET and --splits: its train/val/test "
                                 "structures, rebuilt from its config.json as the trainer built them")
    p.add_argument("--out", help="write the full results as JSON here")
    p.add_argument("--batch-size", type=positive_int, default=16)
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=run)


def run(args) -> int:
    import torch

    import openmm_range
    from openmm_range.data import concat_datasets, load_dataset
    from openmm_range.training.evaluate import evaluate_model, format_table, read_split_file, run_splits

    if args.out and Path(args.out).is_dir():
        raise ValueError(f"--out {args.out!r} is a directory: give a file path for the JSON")
    from openmm_range.openmm.model_files import model_file_or_name

    model = openmm_range.load_model(model_file_or_name(args.model))
    if args.run:
        if args.dataset or args.splits:
            raise ValueError("--run RUN_DIR brings its own data and split: give it without DATASET and --splits")
        results = {name: evaluate_model(model, part, None, args.batch_size, args.device)["all"]
                   for name, part in run_splits(args.run).items() if len(part)}
    else:
        if not args.dataset:
            raise ValueError("give DATASET path(s) or --run RUN_DIR")
        parts = [load_dataset(p, dtype=torch.float64) for p in args.dataset]
        data = parts[0] if len(parts) == 1 else concat_datasets(parts)
        splits = read_split_file(args.splits, len(data)) if args.splits else None
        results = evaluate_model(model, data, splits, args.batch_size, args.device)
    print(format_table(results))
    for name, r in results.items():
        per_el = ", ".join(f"{el} {v['force_mae_mev_a']:.1f}" for el, v in r["per_element"].items())
        print(f"{name}: force MAE per element (meV/Å): {per_el}")
        per_size = ", ".join(f"{k} atoms {v.get('force_mae_mev_a', float('nan')):.1f}" for k, v in r["per_size"].items())
        print(f"{name}: force MAE per size (meV/Å): {per_size}")
    if args.out:
        from openmm_range.serialization import atomic_write

        atomic_write(Path(args.out), lambda tmp: Path(tmp).write_text(json.dumps(results, indent=2) + "\n"))
    return 0
