"""``openmm-range campaign``: start, resume and follow many training runs.

    openmm-range campaign start CAMPAIGN.yaml [--jobs N]    # detached; resumes unfinished runs
    openmm-range campaign status CAMPAIGN.yaml               # epoch, best val error, ETA per run
    openmm-range campaign checkpoints CAMPAIGN.yaml          # checkpoints of unfinished runs (to commit)
    openmm-range campaign stop CAMPAIGN.yaml                 # end the scheduler and its runs (they resume)

See :mod:`openmm_range.training.campaign`.
"""
import os


def register(subparsers) -> None:
    p = subparsers.add_parser("campaign", help="start/resume a set of training runs in the background; status; stop")
    p.add_argument("action", choices=("start", "status", "checkpoints", "stop"))
    p.add_argument("campaign", help="YAML file with 'runs': a list of training configs")
    p.add_argument("--jobs", type=int, default=None, help="runs at a time (default: the CPU cores this process may use)")
    p.set_defaults(func=run)


def run(args) -> int:
    from openmm_range.training.campaign import (format_status, read_campaign, run_state, scheduler_files,
                                                start_detached, stop)

    configs = read_campaign(args.campaign)
    states = [run_state(c) for c in configs]
    if args.action == "status":
        print(format_status(states))
    elif args.action == "stop":
        lines = stop(args.campaign)
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
