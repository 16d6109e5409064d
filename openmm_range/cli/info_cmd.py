"""``openmm-range info``: print a model file's metadata.

    openmm-range info MODEL [--json]

MODEL is a model file (.pt) or the name of a shipped model (e.g. ``range-schnet``).
"""
import json


def register(subparsers) -> None:
    p = subparsers.add_parser("info", help="print a model's metadata (cutoff, elements, units, ...)")
    p.add_argument("model", help="model file (.pt) or shipped model name")
    p.add_argument("--json", action="store_true", help="print the metadata as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from openmm_range.elements import symbol
    from openmm_range.openmm.model_files import model_file_or_name
    from openmm_range.serialization import read_metadata

    path = model_file_or_name(args.model)
    meta = read_metadata(path)
    if args.json:
        print(json.dumps(meta, indent=2, sort_keys=True))
        return 0
    print(f"file:          {path}")
    print(f"model:         {meta.get('name')}")
    print(f"cutoff:        {meta.get('cutoff')} Å")
    print(f"elements:      {' '.join(symbol(z) for z in meta.get('elements', []))}")
    units = meta.get("units", {})
    print("units:         " + ", ".join(f"{k} {v}" for k, v in units.items()))
    print(f"n_min / n_max: {meta.get('n_min')} / {meta.get('n_max')} atoms")
    print(f"dtype:         {meta.get('dtype', 'float32')}")
    print(f"package:       openmm-range {meta.get('package_version')}")
    print(f"training data: {meta.get('training_data_hash') or 'none recorded (untrained?)'}")
    hyper = meta.get("hyperparameters", {})
    if hyper:
        print("hyperparameters:")
        for key in sorted(hyper):
            print(f"  {key}: {hyper[key]}")
    return 0
