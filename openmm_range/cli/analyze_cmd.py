"""``openmm-range analyze``: radius of gyration over one or more trajectories, as CSV and PNG.

    openmm-range analyze TRAJ [TRAJ ...] --top PDB [--out PREFIX] [--selection SEL]
                         [--frame-interval-ps DT] [--levels RG1,RG2] [--title TEXT]

Writes ``PREFIX_rg.csv`` (trajectory, time, Rg in nm) and ``PREFIX_rg.png`` (one line per
trajectory, dashed lines at ``--levels`` Å); PREFIX defaults to the first trajectory's path
without its extension.
"""
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("analyze", help="radius of gyration over trajectories (CSV + PNG plot)")
    p.add_argument("trajectories", nargs="+", help="trajectory files (DCD from `openmm-range simulate --dcd`)")
    p.add_argument("--top", required=True, help="topology PDB with the same atoms")
    p.add_argument("--out", default=None, help="output prefix (default: first trajectory path without extension)")
    p.add_argument("--selection", default=None, help="mdtraj atom selection (default: all atoms)")
    p.add_argument("--frame-interval-ps", type=float, default=None,
                   help="time between frames in ps (default: from the DCD header)")
    p.add_argument("--levels", default="", help="comma-separated Rg values (Å) drawn as dashed reference lines")
    p.add_argument("--title", default=None, help="plot title (default: the trajectory name)")
    p.set_defaults(func=run)


def run(args) -> int:
    import numpy as np

    from openmm_range.openmm.analysis import plot_rg, radius_of_gyration, write_rg_csv

    if args.frame_interval_ps is not None and not args.frame_interval_ps > 0:
        raise ValueError(f"--frame-interval-ps must be positive, got {args.frame_interval_ps}")
    try:
        levels = [float(x) for x in args.levels.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"--levels must be comma-separated numbers (Å), got {args.levels!r}") from None
    trajectories = [Path(t) for t in args.trajectories]
    stems = [t.stem for t in trajectories]  # each trajectory's label; the path where stems repeat
    labels = [stem if stems.count(stem) == 1 else str(t) for stem, t in zip(stems, trajectories)]
    series, units = {}, set()
    for trajectory, label in zip(trajectories, labels):
        times, rg, time_unit = radius_of_gyration(trajectory, Path(args.top), args.selection, args.frame_interval_ps)
        series[label] = (times, rg)
        units.add(time_unit)
        print(f"{trajectory}: {len(rg)} frames; radius of gyration {rg.min() * 10:.2f}-{rg.max() * 10:.2f} Å "
              f"(mean {rg.mean() * 10:.2f} Å)")
    mixed = len(units) > 1
    time_unit = "frame" if mixed else units.pop()
    if mixed:  # some trajectories have frame times and some not: number every one's frames
        series = {label: (np.arange(len(rg), dtype=float), rg) for label, (_, rg) in series.items()}
        print("note: not every trajectory has frame times (give --frame-interval-ps): the time axis is frames")
    prefix = Path(args.out) if args.out else trajectories[0].with_suffix("")
    csv_path = prefix.parent / f"{prefix.name}_rg.csv"
    png_path = prefix.parent / f"{prefix.name}_rg.png"
    write_rg_csv(csv_path, series, time_unit)
    title = args.title if args.title is not None else ", ".join(t.name for t in trajectories[:3]) + (
        " ..." if len(trajectories) > 3 else "")
    plot_rg(png_path, series, time_unit, title=title, levels_angstrom=levels)
    print(f"CSV: {csv_path}\nPNG: {png_path}")
    return 0
