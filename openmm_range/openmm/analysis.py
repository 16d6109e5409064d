"""Trajectory analysis for ``openmm-range analyze``: radius of gyration over time.

Lengths in nm, times in ps.
"""
import csv
import struct
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

#: OpenMM writes DCD time steps in AKMA time units: 1 AKMA = 0.04888821 ps.
PS_PER_AKMA = 0.04888821


def dcd_frame_interval_ps(path: Path) -> Optional[float]:
    """Time between DCD frames (ps) from the header OpenMM's DCDFile writes, or None if unreadable.

    Header layout: int32 84, b'CORD', 9 int32 (frames, first step, interval, 6 zeros),
    float32 time step in AKMA units.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(48)
    except OSError:
        return None
    if len(head) < 48 or head[4:8] != b"CORD" or struct.unpack("<i", head[:4])[0] != 84:
        return None
    interval = struct.unpack("<i", head[16:20])[0]
    timestep = struct.unpack("<f", head[44:48])[0] * PS_PER_AKMA
    if interval <= 0 or not timestep > 0:
        return None
    return interval * timestep


def radius_of_gyration(trajectory: Path, topology: Path, selection: Optional[str] = None,
                       frame_interval_ps: Optional[float] = None) -> Tuple[np.ndarray, np.ndarray, str]:
    """Radius of gyration (nm) per frame, and the frame times.

    Args:
        trajectory: DCD (or any format mdtraj reads).
        topology: PDB with the same atoms.
        selection: mdtraj atom selection (default: all atoms).
        frame_interval_ps: time between frames; default: read from the DCD header,
            else frames are numbered 0, 1, ...

    Returns ``(times, rg_nm, time_unit)`` with ``time_unit`` ``'ps'`` or ``'frame'``.
    """
    import mdtraj

    for path, what in ((trajectory, "trajectory"), (topology, "topology")):
        if not Path(path).is_file():
            raise FileNotFoundError(f"{what} file {str(path)!r} does not exist")
    if Path(trajectory).stat().st_size == 0:
        raise ValueError(f"trajectory file {str(trajectory)!r} is empty (no frames were written to it)")
    try:
        traj = mdtraj.load(str(trajectory), top=str(topology))
    except OSError as exc:
        raise ValueError(f"cannot read trajectory {str(trajectory)!r} with topology {str(topology)!r}: {exc}") from None
    if traj.unitcell_vectors is not None and traj.topology.n_bonds:
        # periodic: a molecule wrapped atom by atom into the box would have a box-sized Rg
        traj = traj.make_molecules_whole()
    if selection:
        try:
            atoms = traj.topology.select(selection)
        except Exception as exc:  # noqa: BLE001 - mdtraj's parser raises several kinds, with a long grammar dump
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            reason = first if 0 < len(first) <= 120 else "mdtraj cannot parse it"
            raise ValueError(f"selection {selection!r} is not a valid mdtraj atom selection ({reason}); "
                             f"examples: 'name CA', 'resname ALA', 'not element H'") from None
        if len(atoms) == 0:
            raise ValueError(f"selection {selection!r} matches no atoms")
        traj = traj.atom_slice(atoms)
    rg = mdtraj.compute_rg(traj)
    if frame_interval_ps is None and str(trajectory).lower().endswith(".dcd"):
        frame_interval_ps = dcd_frame_interval_ps(Path(trajectory))
    if frame_interval_ps is None:
        return np.arange(len(rg), dtype=float), rg, "frame"
    return (np.arange(len(rg)) + 1) * float(frame_interval_ps), rg, "ps"


def write_rg_csv(path: Path, series: Dict[str, Tuple[np.ndarray, np.ndarray]], time_unit: str) -> None:
    """CSV with columns ``trajectory, time_<unit>, rg_nm``; ``series`` maps a label to (times, rg_nm)."""
    from ..serialization import atomic_write

    def write(tmp):
        with open(tmp, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["trajectory", f"time_{time_unit}", "rg_nm"])
            for label, (times, rg) in series.items():
                for t, r in zip(times, rg):
                    writer.writerow([label, f"{t:.6g}", f"{r:.6f}"])

    atomic_write(path, write)


def plot_rg(path: Path, series: Dict[str, Tuple[np.ndarray, np.ndarray]], time_unit: str, title: str = "",
            levels_angstrom: Sequence[float] = ()) -> None:
    """PNG plot of the radius of gyration over time, one line per trajectory, with optional
    dashed horizontal reference lines (Å)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    for label, (times, rg) in series.items():
        ax.plot(times, rg * 10.0, lw=0.8 if len(series) > 1 else 1.0, label=label)
    for level in levels_angstrom:
        ax.axhline(level, color="0.6", lw=0.6, ls="--")
    ax.set_xlabel("time (ps)" if time_unit == "ps" else "frame")
    ax.set_ylabel("radius of gyration (Å)")
    if len(series) > 1:
        ax.legend(fontsize=6, ncol=4)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    from ..serialization import atomic_write

    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
    plt.close(fig)
