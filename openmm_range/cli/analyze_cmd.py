"""``openmm-range analyze``: radius of gyration over a trajectory, as CSV and PNG.

    openmm-range analyze TRAJ --top PDB [--out PREFIX] [--selection SEL] [--frame-interval-ps DT]

Writes ``PREFIX_rg.csv`` (time, Rg in nm) and ``PREFIX_rg.png``; PREFIX defaults to the
trajectory path without its extension.
"""
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("analyze", help="radius of gyration over a trajectory (CSV + PNG plot)")
    p.add_argument("trajectory", help="trajectory file (DCD from `openmm-range simulate --dcd`)")
    p.add_argument("--top", required=True, help="topology PDB with the same atoms")
    p.add_argument("--out", default=None, help="output prefix (default: trajectory path without extension)")
    p.add_argument("--selection", default=None, help="mdtraj atom selection (default: all atoms)")
    p.add_argument("--frame-interval-ps", type=float, default=None,
                   help="time between frames in ps (default: from the DCD header)")
    p.set_defaults(func=run)


def run(args) -> int:
    from openmm_range.openmm.analysis import plot_rg, radius_of_gyration, write_rg_csv

    if args.frame_interval_ps is not None and not args.frame_interval_ps > 0:
        raise ValueError(f"--frame-interval-ps must be positive, got {args.frame_interval_ps}")
    trajectory = Path(args.trajectory)
    times, rg, time_unit = radius_of_gyration(trajectory, Path(args.top), args.selection, args.frame_interval_ps)
    prefix = Path(args.out) if args.out else trajectory.with_suffix("")
    csv_path = prefix.parent / f"{prefix.name}_rg.csv"
    png_path = prefix.parent / f"{prefix.name}_rg.png"
    write_rg_csv(csv_path, times, rg, time_unit)
    plot_rg(png_path, times, rg, time_unit, title=trajectory.name)
    print(f"{len(rg)} frames; radius of gyration {rg.min() * 10:.2f}-{rg.max() * 10:.2f} Å "
          f"(mean {rg.mean() * 10:.2f} Å)")
    print(f"CSV: {csv_path}\nPNG: {png_path}")
    return 0
