"""``openmm-range data`` sub-commands, run through the real CLI entry point."""
import json

import numpy as np

from openmm_range.cli.main import main
from openmm_range.data import load_dataset
from openmm_range.units import EV_PER_KCAL_PER_MOL


def _sgdml(path):
    rng = np.random.default_rng(0)
    np.savez(path, R=rng.normal(size=(4, 3, 3)), z=np.array([8, 1, 1]), E=np.array([-10.0, -11.0, -12.0, -13.0]),
             F=np.full((4, 3, 3), 2.0))


def test_info_prints_statistics(tmp_path, capsys):
    path = str(tmp_path / "water.npz")
    _sgdml(path)
    assert main(["data", "info", path]) == 0
    out = capsys.readouterr().out
    assert "structures:   4" in out and "min 3  max 3" in out and "H(1) O(8)" in out
    assert f"rms {2.0 * EV_PER_KCAL_PER_MOL:.6f}" in out
    assert main(["data", "info", path, "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["energy_mean"] == np.mean([-10.0, -11.0, -12.0, -13.0]) * EV_PER_KCAL_PER_MOL


def test_info_on_generated_directory(tiny_generated, capsys):
    _, out_dir, _ = tiny_generated
    assert main(["data", "info", out_dir]) == 0
    out = capsys.readouterr().out
    assert "labels:       tblite GFN2-xTB accuracy 0.01" in out and "structures:   28" in out


def test_convert_keeps_content(tmp_path, capsys):
    path, out = str(tmp_path / "water.npz"), str(tmp_path / "converted.npz")
    _sgdml(path)
    assert main(["data", "convert", path, out]) == 0
    assert load_dataset(out).content_hash == load_dataset(path).content_hash


def test_bad_file_gives_clear_error(tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    assert main(["data", "info", str(path)]) == 2
    err = capsys.readouterr().err
    assert "notes.txt: cannot tell the dataset format" in err
    assert main(["data", "info", str(tmp_path / "missing.npz")]) == 2
    assert "missing.npz" in capsys.readouterr().err


def test_generate_command_runs_and_resumes(tmp_path, tiny_spec, capsys):
    spec, write_spec = tiny_spec
    spec["molecules"] = spec["molecules"][:1]
    spec["sampling"] = [{"kind": "displace", "sigma": 0.05, "frames": 2}]
    path = write_spec(tmp_path, spec)
    assert main(["data", "generate", path, "--max-tasks", "1", "--no-progress"]) == 0
    assert "tasks_remaining=1" in capsys.readouterr().out
    assert len(load_dataset(str(tmp_path / "tiny-xtb"))) == 2
    assert main(["data", "generate", path, "--no-progress"]) == 0
    assert len(load_dataset(str(tmp_path / "tiny-xtb"))) == 4
    assert "spot check" in capsys.readouterr().out
