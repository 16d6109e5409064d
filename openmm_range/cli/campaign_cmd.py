"""``openmm-range campaign``: start, resume and follow many training runs.

    openmm-range campaign start CAMPAIGN.yaml [--jobs N]    # detached; resumes unfinished runs
    openmm-range campaign status CAMPAIGN.yaml               # epoch, best val error, ETA, CPU-h per run
    openmm-range campaign checkpoints CAMPAIGN.yaml          # checkpoints of unfinished runs (to commit)
    openmm-range campaign stop CAMPAIGN.yaml                 # end the scheduler and its runs (they resume)
    openmm-range campaign stop CAMPAIGN.yaml --after-epoch   # ... each run once its current epoch is saved

See :mod:`openmm_range.training.campaign`.
"""
import os

from openmm_range.cli import positive_int


def register(subparsers) -> None:
    p = subparsers.add_parser("campaign", help="start/resume a set of training runs in the background; status; stop")
    p.add_argument("action", choices=("start", "status", "checkpoints", "stop"))
    p.add_argument("campaign", help="YAML file with 'runs': a list of training configs")
    p.add_argument("--jobs", type=positive_int, default=None, help="runs at a time (default: the CPU cores this process may use)")
    p.add_argument("--after-epoch", action="store_true",
                   help="stop: let each run finish and checkpoint the epoch it is in, then end (returns at once; "
                        "follow with 'status')")
    p.set_defaults(func=run)


def run(args) -> int:
    from openmm_range.training.campaign import (format_status, read_campaign, run_state, scheduler_files,
                                                start_detached, stop)

    if args.after_epoch and args.action != "stop":
        raise ValueError(f"--after-epoch belongs to 'campaign stop', not 'campaign {args.action}'")
    configs = read_campaign(args.campaign)
    states = [run_state(c) for c in configs]
    if args.action == "status":
        print(format_status(states))
    elif args.action == "stop":
        lines = stop(args.campaign, after_epoch=args.after_epoch)
        print("\n".join(lines) if lines else f"campaign {args.campaign}: nothing was running")
    elif args.action == "checkpoints":
        for s in states:
            if not s.finished and (s.out_dir / "checkpoint.pt").exists():
                print(s.out_dir / "checkpoint.pt")
    else:
        jobs = args.jobs if args.jobs is not None else len(os.sched_getaffinity(0))  # the cores this job may use
        if jobs < 1:
            raise ValueError(f"--jobs must be >= 1, got {jobs}")
        pid = start_detached(args.campaign, jobs)
        print(f"campaign {args.campaign}: scheduler pid {pid}, up to {jobs} run(s) at a time, "
              f"log {scheduler_files(args.campaign)[0]}")
        print(format_status(states))
    return 0
