"""The main job (scripts/main.sh) for a few hundred steps: its command, its CSV and its DCD.

The command line is read from scripts/main.sh itself (its ``exec ... openmm-range simulate ...
"$@"`` line), so the test breaks when main.sh changes in a way this check no longer covers.
Only what main.sh forwards with ``"$@"`` is added: fewer ``--steps`` and the output files in
tmp_path (argparse keeps the last value of an option, as when a user passes them to main.sh).
"""
import csv
import math
import re
import shlex
import subprocess
import sys
from pathlib import Path

import mdtraj
import numpy as np
import openmm.app as app
import pytest

from openmm_range.cli.main import build_parser
from openmm_range.openmm.simulation import select_platform

REPO = Path(__file__).resolve().parents[1]
MAIN_SH = REPO / "scripts" / "main.sh"
#: Frames the test asks for: steps = FRAMES x main.sh's --report-interval.
FRAMES = 8


def main_job_arguments() -> list:
    """The arguments main.sh gives ``openmm-range`` (``$root`` resolved), without ``"$@"``."""
    text = re.sub(r"\\\n", " ", MAIN_SH.read_text())  # join continuation lines
    commands = [line.strip() for line in text.splitlines() if line.strip().startswith("exec ")]
    assert len(commands) == 1, f"{MAIN_SH} should have exactly one `exec ... openmm-range simulate` line"
    tokens = shlex.split(commands[0])[1:]
    assert Path(tokens[0]).name == "openmm-range", f"main.sh runs {tokens[0]!r}, not the openmm-range console script"
    assert tokens[-1] == "$@", 'main.sh no longer forwards extra arguments ("$@") last'
    arguments = [t.replace("$root", str(REPO)) for t in tokens[1:-1]]
    assert not [a for a in arguments if "$" in a], f"unresolved shell variables in {arguments}"
    return arguments


def test_main_job_command_is_the_shipped_model_on_auto_settings():
    args = build_parser().parse_args(main_job_arguments())
    assert args.command == "simulate"
    assert args.model == "range-schnet" and args.model_path is None  # the shipped model
    assert args.platform == "auto" and args.backend == "auto"
    assert Path(args.pdb).is_file()


def test_main_job_writes_csv_and_dcd_matching_its_arguments(tmp_path):
    arguments = main_job_arguments()
    job = build_parser().parse_args(arguments)
    steps = FRAMES * job.report_interval
    dcd, table = tmp_path / "dha.dcd", tmp_path / "dha.csv"
    console_script = Path(sys.executable).with_name("openmm-range")  # .venv/bin/openmm-range under scripts/test.sh
    assert console_script.is_file(), f"the openmm-range console script is not installed beside {sys.executable}"
    done = subprocess.run([str(console_script), *arguments, "--steps", str(steps), "--dcd", str(dcd),
                           "--csv", str(table)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    platform = select_platform("auto").getName()
    assert f"({steps} steps)" in done.stdout and f"on {platform} with the" in done.stdout, done.stdout

    with open(table, newline="") as handle:
        rows = list(csv.reader(handle))
    header, rows = rows[0], rows[1:]
    assert header[0] == '#"Step"' and "Temperature (K)" in header, header
    assert [int(r[0]) for r in rows] == [job.report_interval * k for k in range(1, FRAMES + 1)]
    times_ps = [float(r[header.index("Time (ps)")]) for r in rows]
    assert times_ps == pytest.approx([int(r[0]) * job.timestep_fs * 1e-3 for r in rows])
    temperatures = [float(r[header.index("Temperature (K)")]) for r in rows]
    # 56 atoms: the instantaneous temperature fluctuates by ~10%, and minimisation first drains
    # about half the initial kinetic energy into the potential; 0 K, NaN or a blow-up fail here.
    assert all(math.isfinite(t) and 0.25 * job.temperature <= t <= 2.0 * job.temperature for t in temperatures), \
        temperatures

    n_atoms = app.PDBFile(job.pdb).topology.getNumAtoms()
    trajectory = mdtraj.load_dcd(str(dcd), top=job.pdb)
    assert trajectory.n_frames == steps // job.report_interval == FRAMES
    assert trajectory.n_atoms == n_atoms
    assert np.isfinite(trajectory.xyz).all()
