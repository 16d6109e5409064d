"""The README's main command (demo) runs end to end on the bundled DHA structure."""
import subprocess
import sys

import torch

import openmm_range
from openmm_range.structures import dha


def test_demo_prints_energy_forces_and_timing():
    out = subprocess.run([sys.executable, "-m", "openmm_range.cli.main", "demo", "--repeats", "2"],
                         capture_output=True, text=True, check=True).stdout
    assert "DHA, 56 atoms" in out and "energy+forces" in out and "kJ/mol" in out
    torch.manual_seed(0)
    model = openmm_range.create_model("range-schnet")
    z, pos = dha()
    expected = openmm_range.export(model, z.tolist())(pos.float() / 10.0)
    printed = float(out.split("energy:")[1].split("kJ/mol")[0])
    assert abs(printed - float(expected)) < 1e-3 * max(1.0, abs(float(expected)))


def test_bundled_dha_is_c22h32o2():
    z, pos = dha()
    assert z.tolist().count(6) == 22 and z.tolist().count(1) == 32 and z.tolist().count(8) == 2
    assert pos.shape == (56, 3) and float(torch.cdist(pos, pos).add(torch.eye(56) * 9).min()) > 0.9
