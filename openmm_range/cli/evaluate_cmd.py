"""``openmm-range evaluate MODEL DATASET``: energy/force MAE and RMSE per split, element and size."""
import json
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="energy and force errors of a model on a dataset")
    p.add_argument("model", help="model file (save_model format, e.g. runs/x/best_model.pt)")
    p.add_argument("dataset", nargs="+", help="dataset path(s), concatenated in order as in training")
    p.add_argument("--splits", help="split.json of a training run: report train/val/test separately")
    p.add_argument("--out", help="write the full results as JSON here")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=run)


def run(args) -> int:
    import torch

    import openmm_range
    from openmm_range.data import concat_datasets, load_dataset
    from openmm_range.training.evaluate import evaluate_model, format_table

    model = openmm_range.load_model(args.model)
    parts = [load_dataset(p, dtype=torch.float64) for p in args.dataset]
    data = parts[0] if len(parts) == 1 else concat_datasets(parts)
    splits = json.loads(Path(args.splits).read_text()) if args.splits else None
    results = evaluate_model(model, data, splits, args.batch_size, args.device)
    print(format_table(results))
    for name, r in results.items():
        per_el = ", ".join(f"{el} {v['force_mae_mev_a']:.1f}" for el, v in r["per_element"].items())
        print(f"{name}: force MAE per element (meV/Å): {per_el}")
        per_size = ", ".join(f"{k} atoms {v.get('force_mae_mev_a', float('nan')):.1f}" for k, v in r["per_size"].items())
        print(f"{name}: force MAE per size (meV/Å): {per_size}")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    return 0
