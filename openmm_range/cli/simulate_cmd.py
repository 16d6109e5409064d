"""``openmm-range simulate``: Langevin MD of a PDB structure with a RANGE potential in OpenMM.

    openmm-range simulate --pdb FILE --model NAME [--model-path FILE] [--temperature 300]
        [--timestep-fs DT] [--constraints none|hbonds] [--steps N] [--platform auto|CPU|CUDA|Reference]
        [--backend auto|torchforce|python] [--precision single|double] [--charge Q] [--no-minimize]
        [--report-interval K] [--dcd OUT.dcd] [--csv OUT.csv] [--overwrite] [--seed S]
        [--ml-chain C [--mm-forcefield XML ...]] [--threads T]
        [--checkpoint FILE [--checkpoint-interval K] [--resume]]

Without ``--ml-chain`` the whole structure is modelled by the ML potential (vacuum, or
periodic if the PDB has a CRYST1 box). With ``--ml-chain C`` chain C is ML and the rest is
modelled with ``--mm-forcefield`` (default amber19 + TIP3P-FB) by openmm-ml's
mechanical embedding.

X-H bonds move freely by default, and the time step is then 1 fs: with 2 fs, the shipped
default lost a hydrogen in 5 of 8 DHA runs of 100 ps. ``--constraints hbonds`` holds every
X-H bond at its minimised length (as OpenMM's ``constraints=HBonds``) and the default step
becomes 2 fs. ML/MM runs always constrain X-H bonds, the ML region's included (the MM force
field's HBonds), at 2 fs.

A long run survives interruption with ``--checkpoint FILE``: the state is written there
(atomically) every ``--checkpoint-interval`` steps and at the end. The same command with
``--resume`` continues from it, appends to the DCD and CSV (cut back to the checkpoint's step
first) and stops at ``--steps`` steps in all; a larger ``--steps`` extends a finished run.
``--resume`` without a checkpoint file yet starts the run, so one command serves a job that
is resubmitted until done.
"""
import json
import logging
import sys
from pathlib import Path


def register(subparsers) -> None:
    from openmm_range.openmm.backends import BACKENDS
    from openmm_range.registry import POTENTIAL_NAMES

    p = subparsers.add_parser("simulate", help="run Langevin MD in OpenMM with a RANGE potential")
    p.add_argument("--pdb", required=True, help="input structure (PDB)")
    p.add_argument("--model", required=True, choices=list(POTENTIAL_NAMES), metavar="NAME",
                   help=f"potential name: {', '.join(POTENTIAL_NAMES)}")
    p.add_argument("--model-path", default=None, help="model file (.pt) from save_model/training; default: shipped")
    p.add_argument("--temperature", type=float, default=300.0, help="K (default 300)")
    p.add_argument("--timestep-fs", type=float, default=None,
                   help="fs (default: 1 with free X-H bonds, 2 with --constraints hbonds or --ml-chain)")
    p.add_argument("--constraints", default=None, choices=("none", "hbonds"),
                   help="hbonds: hold X-H bonds at their minimised lengths (allows 2 fs); default none for all-ML "
                        "runs (ML/MM runs always constrain X-H bonds)")
    p.add_argument("--friction", type=float, default=1.0, help="Langevin friction, 1/ps (default 1)")
    p.add_argument("--steps", type=int, default=1000, help="MD steps (default 1000)")
    p.add_argument("--platform", default="auto",
                   help="auto (default: CUDA if present, else HIP, else CPU; the choice is logged), CUDA, CPU, "
                        "Reference, ...")
    p.add_argument("--backend", default="auto", choices=BACKENDS, help="how OpenMM runs the model (default auto)")
    p.add_argument("--charge", type=int, default=0,
                   help="total charge of the ML region in e (default 0; only charges the model was trained on)")
    p.add_argument("--precision", default=None, choices=("single", "double"),
                   help="model precision (default: as saved)")
    p.add_argument("--no-minimize", dest="minimize", action="store_false", help="skip energy minimisation")
    p.add_argument("--report-interval", type=int, default=100, help="steps between DCD/CSV frames (default 100)")
    p.add_argument("--dcd", default=None, help="write the trajectory here (DCD)")
    p.add_argument("--csv", default=None, help="write step, time, energies, temperature, speed here (CSV)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing DCD/CSV when the run starts afresh (without it, that is refused)")
    p.add_argument("--seed", type=int, default=None, help="random seed for velocities and the thermostat")
    p.add_argument("--ml-chain", type=int, default=None, help="ML/MM: index of the chain modelled by the ML "
                   "potential; the rest uses --mm-forcefield")
    p.add_argument("--mm-forcefield", nargs="+", default=None,
                   help="OpenMM force field files for the MM part (default amber19-all.xml amber19/tip3pfb.xml)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: with more, torch and OpenMM's own CPU threads compete and "
                        "a 56-atom molecule ran 15x slower in our measurement)")
    p.add_argument("--max-bond-stretch", type=float, default=0.5,
                   help="stop when a bond of the ML region leaves its minimised length by more than this many Å: the "
                        "model has then left the region it was trained on (default 0.5; 0 turns the check off)")
    p.add_argument("--checkpoint", default=None,
                   help="write a checkpoint here every --checkpoint-interval steps and at the end")
    p.add_argument("--checkpoint-interval", type=int, default=None,
                   help="steps between checkpoints, a multiple of --report-interval (default 10000)")
    p.add_argument("--resume", action="store_true",
                   help="continue from --checkpoint if it exists (else start); --steps counts the whole run")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    p.add_argument("--json", default=None, help="also write the final summary as JSON here")
    p.set_defaults(func=run)


def run(args) -> int:
    from openmm_range.openmm.simulation import SimulationConfig, run_simulation

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.threads is not None:
        import torch

        if args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    # options that belong to another one are refused without it, not silently ignored
    for option, value, needs, given in (("--mm-forcefield", args.mm_forcefield, "--ml-chain", args.ml_chain),
                                        ("--checkpoint-interval", args.checkpoint_interval, "--checkpoint",
                                         args.checkpoint)):
        if value is not None and given is None:
            raise ValueError(f"{option} applies only with {needs}; without it, it would be ignored")
    defaults = SimulationConfig(pdb=Path(args.pdb), model=args.model)
    config = SimulationConfig(
        pdb=Path(args.pdb), model=args.model, model_path=Path(args.model_path) if args.model_path else None,
        temperature=args.temperature, timestep_fs=args.timestep_fs, friction_per_ps=args.friction,
        steps=args.steps, platform=args.platform, backend=args.backend, precision=args.precision,
        charge=args.charge, minimize=args.minimize, report_interval=args.report_interval,
        dcd=Path(args.dcd) if args.dcd else None, csv=Path(args.csv) if args.csv else None, seed=args.seed,
        ml_chain=args.ml_chain, mm_forcefield=tuple(args.mm_forcefield or defaults.mm_forcefield),
        progress=args.progress,
        max_bond_stretch=args.max_bond_stretch, checkpoint=Path(args.checkpoint) if args.checkpoint else None,
        checkpoint_interval=(defaults.checkpoint_interval if args.checkpoint_interval is None
                             else args.checkpoint_interval), resume=args.resume,
        constraints=args.constraints,
        overwrite=args.overwrite)
    if args.json and Path(args.json).is_dir():
        raise ValueError(f"--json {args.json!r} is a directory: give a file path")
    for name, path in (("--dcd", args.dcd), ("--csv", args.csv)):
        if args.json and path and Path(path).resolve() == Path(args.json).resolve():
            raise ValueError(f"--json {args.json!r} is the same file as {name}: give each a path of its own")
    if config.checkpoint is not None and args.json:
        config.check_checkpoint_path(json=Path(args.json))
    import openmm

    try:
        summary = run_simulation(config)
    except (RuntimeError, openmm.OpenMMException) as exc:
        print(f"openmm-range simulate: error: {exc}", file=sys.stderr)
        return 1
    if summary["resumed_from_step"] is not None:
        print(f"resumed at step {summary['resumed_from_step']} of {summary['steps']}"
              + ("" if summary["resume_exact"] else " (from the portable state: not bit-identical to an "
                 "uninterrupted run)"))
    print(f"simulated {summary['simulated_ps']:.3f} ps ({summary['steps_run']} steps) in {summary['wall_s']:.1f} s: "
          f"{summary['ns_per_day']:.3f} ns/day on {summary['platform']} with the {summary['backend']} backend")
    print(f"final potential energy {summary['final_potential_kj_mol']:.3f} kJ/mol; "
          f"mean temperature {summary['mean_temperature_k']:.1f} K")
    for key in ("dcd", "csv", "checkpoint"):
        if summary[key]:
            print(f"{key.upper()}: {summary[key]}")
    if args.json:
        from openmm_range.serialization import atomic_write

        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        atomic_write(Path(args.json), lambda tmp: Path(tmp).write_text(json.dumps(summary, indent=2) + "\n"))
    sys.stdout.flush()
    return 0
