"""``openmm-range train CONFIG.yaml [--resume] [--<option> VALUE ...]``.

Every field of :class:`openmm_range.training.TrainConfig` is also a flag (``--batch-size 8``,
``--hyperparameters '{"hidden_channels": 64}'``, merged key by key into the YAML's
``hyperparameters``); flags override the YAML file. For several
processes or GPUs launch with ``torchrun --nproc-per-node K $(which openmm-range) train ...``.
"""
import dataclasses
import json


def register(sub) -> None:
    from openmm_range.training.config import TrainConfig

    p = sub.add_parser("train", help="train a model (paper recipe; resumable; torchrun for several processes)")
    p.add_argument("config", nargs="?", help="YAML file of training options")
    p.add_argument("--resume", action="store_true", help="continue from out_dir/checkpoint.pt if present")
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.name == "data":
            p.add_argument(flag, nargs="+", default=None, help="dataset path(s)")
        elif f.name == "held_out_molecules":
            p.add_argument(flag, nargs="+", default=None, help="molecule names kept out of training (split_by: molecule)")
        elif f.name == "hyperparameters":
            p.add_argument(flag, type=json.loads, default=None,
                           help="model options as JSON, merged key by key into the YAML's hyperparameters")
        elif f.name in ("split", "max_structures"):
            p.add_argument(flag, type=json.loads, default=None, help=f"{f.name} as JSON")
        else:
            kind = {"int": int, "float": float, "str": str}.get(str(f.type).replace("typing.Optional[", "").rstrip("]"), None)
            kind = kind or (type(f.default) if f.default not in (None, dataclasses.MISSING) else str)
            p.add_argument(flag, type=kind, default=None, help=f"(default {f.default!r})")
    p.set_defaults(func=run)


#: exit status of a run that stopped on request before its last epoch (it resumes with --resume)
STOPPED_EXIT_CODE = 3


def config_from_args(args):
    """The TrainConfig of the YAML file (if given) with the flags that were given on top; the
    ``--hyperparameters`` mapping is merged key by key into the YAML's."""
    from openmm_range.training import TrainConfig

    base = TrainConfig.from_yaml(args.config).to_dict() if args.config else {}
    for f in dataclasses.fields(TrainConfig):
        value = getattr(args, f.name, None)
        if f.name == "hyperparameters" and isinstance(value, dict) and isinstance(base.get(f.name), dict):
            value = {**base[f.name], **value}  # one option changed, the YAML's others kept
        if value is not None:
            base[f.name] = value
    return TrainConfig.from_dict(base)


def run(args) -> int:
    from openmm_range.training import train

    summary = train(config_from_args(args), resume=args.resume)
    print(json.dumps(summary, indent=2))
    # stopped on request (campaign stop --after-epoch): unfinished, so not 0 ('train && publish' must not go on)
    return STOPPED_EXIT_CODE if "stopped_after_epoch" in summary else 0
