"""Regression: paths that segfault with openmmtorch 1.5 must end cleanly, in a child process.

openmmtorch 1.5 crashes (SIGSEGV) when a TorchForce is XML-deserialised, deep-copied, or
evaluated inside a CustomCVForce. Each scenario in crash_paths.py runs in its own
process, so a crash shows up here as a negative exit status instead of killing pytest.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from openmm_helpers import ALANINE_PDB

SCRIPT = Path(__file__).with_name("crash_paths.py")
SCENARIOS = ["xml-round-trip-default", "interpolate-auto", "interpolate-torchforce", "xml-round-trip-python", "deepcopy-python",
             "torchforce-copies-refused"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario_exits_cleanly(scenario, model_files, alanine_pdb):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, str(SCRIPT), scenario, str(model_files["range-schnet"]), str(ALANINE_PDB)],
                          capture_output=True, text=True, timeout=600, env=env, cwd=SCRIPT.parent)
    output = done.stdout + done.stderr
    assert done.returncode >= 0, f"{scenario} crashed with signal {-done.returncode}:\n{output[-3000:]}"
    assert done.returncode == 0, f"{scenario} failed:\n{output[-3000:]}"
    assert f"{scenario}-OK" in done.stdout
