"""``openmm-range inspect MODEL DATASET``: are a RANGE model's master nodes distinct, and what does
its size regulariser do (openmm_range.training.inspect)."""
import json
from pathlib import Path

from openmm_range.cli import non_negative_int


def register(sub) -> None:
    p = sub.add_parser("inspect", help="master-node diagnostics of a RANGE model on a dataset")
    p.add_argument("model", help="model file (save_model format), or a shipped model name such as range-schnet")
    p.add_argument("dataset", nargs="*", help="dataset path(s), concatenated in order as in training")
    p.add_argument("--splits", help="split.json of a training run; with --split, inspect only that split")
    p.add_argument("--run", help="a training run directory instead of DATASET and --splits: its data, "
                                 "subsampled and split exactly as in training (config.json)")
    p.add_argument("--split", default="val", help="which split of --splits / --run to use (default: val)")
    p.add_argument("--max-structures", type=non_negative_int, default=500,
                   help="inspect at most this many structures (evenly spaced; 0 = all; default 500)")
    p.add_argument("--out", help="write the diagnostics as JSON here")
    p.add_argument("--svd", metavar="PNG",
                   help="also the paper's attention analysis (structures of one molecule, e.g. DHA): SVD of "
                        "master node --svd-master's aggregation and broadcast weights in the last RANGE block, "
                        "per head; the figure goes here and the numbers into --out")
    p.add_argument("--svd-master", type=int, default=1, help="master node of the SVD, counted from 1 (default 1)")
    p.set_defaults(func=run)


def run(args) -> int:
    import numpy as np
    import torch

    from openmm_range.data import concat_datasets, load_dataset
    from openmm_range.training.inspect import attention_svd, format_diagnostics, format_svd, master_diagnostics

    if args.run and (args.dataset or args.splits):
        raise ValueError("--run RUN_DIR brings its own data and split: give it without DATASET and --splits")
    model = _load(args.model)
    if args.run:
        data = _run_split(args.run, args.split)
    elif not args.dataset:
        raise ValueError("give DATASET path(s) or --run RUN_DIR")
    else:
        parts = [load_dataset(p, dtype=torch.float64) for p in args.dataset]
        data = parts[0] if len(parts) == 1 else concat_datasets(parts)
    if args.splits:
        from openmm_range.training.evaluate import read_split_file

        splits = read_split_file(args.splits, len(data))
        if args.split not in splits:
            raise ValueError(f"--split {args.split!r} is not in {args.splits}; it has {sorted(splits)}")
        data = data.subset(splits[args.split])
    if len(data) == 0:
        where = f"split {args.split!r} of {args.run or args.splits}" if (args.run or args.splits) else "the dataset"
        raise ValueError(f"{where} holds no structures: nothing to inspect")
    if args.max_structures < 0:
        raise ValueError(f"--max-structures must be >= 0, got {args.max_structures}")
    if args.max_structures and len(data) > args.max_structures:
        data = data.subset(np.linspace(0, len(data) - 1, args.max_structures).round().astype(int))
    model = model.double()  # the data are float64
    diag = master_diagnostics(model, data)
    print(format_diagnostics(diag))
    if args.svd:
        from openmm_range.serialization import atomic_write
        from openmm_range.training.plots import attention_svd_plot

        diag["svd"] = attention_svd(model, data, master=args.svd_master - 1)
        print("\n" + format_svd(diag["svd"]))
        atomic_write(Path(args.svd), lambda tmp: attention_svd_plot(diag["svd"], data[0].pos.numpy(), tmp))
    if args.out:
        from openmm_range.serialization import atomic_write

        atomic_write(Path(args.out), lambda tmp: Path(tmp).write_text(json.dumps(diag, indent=2) + "\n"))
    return 0


def _run_split(run_dir: str, split: str):
    """One split of a training run's data, rebuilt from its config.json as the trainer builds it."""
    from openmm_range.training.evaluate import run_splits

    splits = run_splits(run_dir)
    if split not in splits:
        raise ValueError(f"--split {split!r}: a run has the splits {sorted(splits)}")
    return splits[split]


def _load(spec: str):
    import openmm_range
    from openmm_range.openmm.model_files import model_file_or_name

    return openmm_range.load_model(model_file_or_name(spec))
