"""The model-card stability note quotes the NVE runs of exactly the card's model file."""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import stability_note  # noqa: E402


def _row(sha, dt, first_break=None):
    return {"model": "painn", "dt_fs": dt, "seed": 7, "spread_kj_mol": 7.65, "drift_kj_mol": -4.49,
            "temperature_min_k": 109.0, "temperature_max_k": 818.0, "model_file_sha256": sha,
            "first_break": first_break}


def test_nve_rows_of_this_file_only(tmp_path, capsys):
    brk = {"time_ps": 3.3, "bond": "O23-H55", "stretch_a": 1.73, "model_delta_ev": -2.35, "xtb_delta_ev": 9.11}
    report = {"ps": 4.0, "temperature_k": 300.0, "seeds": [7],
              "results": [_row("a" * 64, 0.5, brk), _row("b" * 64, 1.0), _row(None, 2.0)]}
    (tmp_path / "nve_timestep_x.json").write_text(json.dumps(report))
    (tmp_path / "nve_timestep_frequencies.json").write_text(json.dumps([{"model": "painn"}]))  # not runs
    stability_note.print_nve_rows("a" * 64, tmp_path)
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| painn")]
    assert rows == ["| painn | 0.5 | 7 | 7.65 | -4.49 | 109-818 | "
                    "3.30 ps, O23-H55 (1.7 Å); E - E(start): model -2.4, GFN2-xTB +9.1 eV |"]
    assert "`benchmarks/results/nve_timestep_x.md` (4 ps, velocities at 300 K)" in out


def test_no_nve_section_without_runs_of_the_file(tmp_path, capsys):
    report = {"ps": 4.0, "temperature_k": 300.0, "results": [_row("b" * 64, 1.0)]}
    (tmp_path / "nve_timestep_y.json").write_text(json.dumps(report))
    stability_note.print_nve_rows("a" * 64, tmp_path)
    assert capsys.readouterr().out == ""
