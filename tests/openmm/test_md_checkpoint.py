"""Checkpointed MD: ``openmm-range simulate --checkpoint FILE [--resume]``.

A real run is killed (SIGKILL) in a child process after it has written checkpoints and more
trajectory frames than the last checkpoint covers; the resumed run must produce the same
trajectory, frame for frame, as a run that was never interrupted.
"""
import csv
import json
import os
import signal
import subprocess
import sys
import time
import zipfile

import mdtraj
import numpy as np
import openmm
import pytest

from openmm_range.cli.main import main
from openmm_range.openmm import md_checkpoint


REPORT, INTERVAL, STEPS = 10, 20, 120
#: every run of the resume test starts in a fresh process with one OpenMM CPU thread: OpenMM's random
#: numbers then depend on the seed alone (in one process, the Reference platform seeds once and the CPU
#: platform's thread count is fixed when it loads), so an uninterrupted run is a fixed reference
CHILD_ENV = dict(os.environ, OPENMM_CPU_THREADS="1", OMP_NUM_THREADS="1")
CHILD = "import sys; from openmm_range.cli.main import main; sys.exit(main(sys.argv[1:]))"


def _argv(pdb, model, out, steps, *extra):
    return ["simulate", "--pdb", str(pdb), "--model", "range-schnet", "--model-path", str(model),
            "--steps", str(steps), "--timestep-fs", "0.5", "--report-interval", str(REPORT), "--platform", "CPU",
            "--backend", "python", "--seed", "11", "--no-progress", "--threads", "1", "--max-bond-stretch", "0",
            "--dcd", str(out / "run.dcd"), "--csv", str(out / "run.csv"), *extra]


def _rows(path):
    with open(path) as handle:
        rows = list(csv.reader(handle))
    return np.array([[float(x) for x in r[:-1]] for r in rows[1:]])  # every column but the speed


def _run(argv):
    """The CLI in a fresh child process; its exit code must be 0."""
    done = subprocess.run([sys.executable, "-c", CHILD, *argv], env=CHILD_ENV, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def _kill_after_checkpoint(argv, checkpoint, dcd, min_step):
    """Run the CLI in a child process and SIGKILL it once the checkpoint is at ``min_step`` or later
    and the DCD already holds frames beyond it."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, *argv], env=CHILD_ENV, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
    deadline = time.time() + 300
    try:
        while time.time() < deadline and child.poll() is None:
            if checkpoint.exists():
                step = md_checkpoint.read_checkpoint(checkpoint)["meta"]["step"]
                try:  # (the start state is checkpointed before the DCD has its first frame)
                    header, frame, _, _ = md_checkpoint._dcd_layout(dcd)
                except (OSError, ValueError):
                    time.sleep(0.02)
                    continue
                if step >= min_step and (dcd.stat().st_size - header) // frame > step // REPORT:
                    child.send_signal(signal.SIGKILL)
                    child.wait()
                    return step
            time.sleep(0.02)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    raise AssertionError(f"the child run ended (code {child.returncode}) before it could be killed mid-run: "
                         f"{child.stdout.read().decode()[-2000:]}")


def test_killed_run_resumes_to_the_uninterrupted_trajectory(tmp_path, peptide_pdb, model_files):
    model = model_files["range-schnet"]
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    whole.mkdir(), cut.mkdir()
    _run(_argv(peptide_pdb, model, whole, STEPS))

    checkpoint = cut / "run.chk"
    # a long run, killed once its checkpoint has reached step 40 and frames past it are on disk
    step = _kill_after_checkpoint(
        _argv(peptide_pdb, model, cut, 100 * STEPS, "--checkpoint", str(checkpoint),
              "--checkpoint-interval", str(INTERVAL)), checkpoint, cut / "run.dcd", 40)
    assert step % INTERVAL == 0 and step < STEPS

    summary = tmp_path / "resumed.json"
    _run(_argv(peptide_pdb, model, cut, STEPS, "--checkpoint", str(checkpoint), "--checkpoint-interval",
               str(INTERVAL), "--resume", "--json", str(summary)))
    result = json.loads(summary.read_text())
    assert result["resumed_from_step"] == step and result["resume_exact"] is True
    assert result["steps_run"] == STEPS - step and result["steps"] == STEPS

    a = mdtraj.load(str(whole / "run.dcd"), top=str(peptide_pdb))
    b = mdtraj.load(str(cut / "run.dcd"), top=str(peptide_pdb))
    assert len(a) == len(b) == STEPS // REPORT
    # the same trajectory: identical up to the step of the resume, and within float32 round-off
    # after it (bit for bit on this machine, with or without md_checkpoint.SETTLING_EVALUATIONS; an
    # earlier machine showed one float32 ulp in 2 of 792 coordinates, 2.4e-7 nm). A resume that lost
    # the velocities or the integrator's random state would move every atom by about the thermal
    # step (~1e-4 nm per 0.5 fs step at 300 K, an estimate), far beyond this tolerance.
    first = step // REPORT
    np.testing.assert_array_equal(a.xyz[:first], b.xyz[:first])
    np.testing.assert_allclose(a.xyz, b.xyz, rtol=0, atol=1e-6)
    # the energies and temperature logged after the resume agree to float64 round-off (the kinetic
    # energy of a resumed step is summed anew; measured: 1e-9 relative)
    np.testing.assert_allclose(_rows(cut / "run.csv"), _rows(whole / "run.csv"), rtol=1e-7)
    assert md_checkpoint.read_checkpoint(checkpoint)["meta"]["step"] == STEPS

    # a finished run is extended by a larger --steps
    assert main(_argv(peptide_pdb, model, cut, STEPS + 40, "--checkpoint", str(checkpoint), "--checkpoint-interval",
                      str(INTERVAL), "--resume")) == 0
    assert len(mdtraj.load(str(cut / "run.dcd"), top=str(peptide_pdb))) == (STEPS + 40) // REPORT


def test_a_run_killed_before_its_first_interval_resumes_from_its_start(tmp_path, peptide_pdb, model_files):
    """The start state (minimised, thermalised) is checkpointed before the first step: a job killed
    before its first checkpoint interval, with frames already on disk, is resubmitted with the same
    command (not refused for its output files) and gives the uninterrupted trajectory."""
    model = model_files["range-schnet"]
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    whole.mkdir(), cut.mkdir()
    _run(_argv(peptide_pdb, model, whole, STEPS))
    checkpoint, long_interval = cut / "run.chk", str(100 * STEPS)
    step = _kill_after_checkpoint(_argv(peptide_pdb, model, cut, 100 * STEPS, "--checkpoint", str(checkpoint),
                                        "--checkpoint-interval", long_interval), checkpoint, cut / "run.dcd", 0)
    assert step == 0
    summary = tmp_path / "resumed.json"
    _run(_argv(peptide_pdb, model, cut, STEPS, "--checkpoint", str(checkpoint), "--checkpoint-interval",
               long_interval, "--resume", "--json", str(summary)))
    assert json.loads(summary.read_text())["resumed_from_step"] == 0
    a = mdtraj.load(str(whole / "run.dcd"), top=str(peptide_pdb))
    b = mdtraj.load(str(cut / "run.dcd"), top=str(peptide_pdb))
    assert len(a) == len(b) == STEPS // REPORT
    np.testing.assert_allclose(a.xyz, b.xyz, rtol=0, atol=1e-6)
    assert len(_rows(cut / "run.csv")) == STEPS // REPORT


def test_checkpoint_refuses_what_would_lose_or_mix_runs(tmp_path, peptide_pdb, model_files, capsys):
    model = model_files["range-schnet"]
    checkpoint = tmp_path / "run.chk"
    base = _argv(peptide_pdb, model, tmp_path, 20, "--checkpoint", str(checkpoint), "--checkpoint-interval", "20")
    assert main(base) == 0
    capsys.readouterr()
    # a second start without --resume would overwrite the run
    assert main(base) == 2
    assert "exists: pass --resume" in capsys.readouterr().err
    # other settings than the checkpoint's: every difference is named
    other = base + ["--resume", "--temperature", "310", "--report-interval", "5"]
    assert main(other) == 2
    err = capsys.readouterr().err
    assert "temperature_k: checkpoint 300.0, now 310.0" in err and "report_interval" in err
    # a checkpoint interval that is not a multiple of the report interval
    assert main(base[:-1] + ["15"]) == 2
    assert "checkpoint_interval must be a positive multiple of report_interval (10)" in capsys.readouterr().err
    # a checkpoint path that is another file of the run would overwrite it
    for flag, path in (("--dcd", tmp_path / "run.dcd"), ("--json", tmp_path / "same.json")):
        argv = _argv(peptide_pdb, model, tmp_path, 20, "--checkpoint", str(path), "--checkpoint-interval", "20")
        if flag == "--json":
            argv += ["--json", str(path)]
        assert main(argv) == 2
        assert f"checkpoint {str(path)!r} is the same file as {flag[2:]}" in capsys.readouterr().err
    assert not (tmp_path / "same.json").exists()
    assert main(_argv(peptide_pdb, model, tmp_path, 20, "--checkpoint", str(tmp_path), "--checkpoint-interval", "20")) == 2
    assert "is a directory" in capsys.readouterr().err
    # --resume needs a file to resume from
    assert main(_argv(peptide_pdb, model, tmp_path, 20, "--resume")) == 2
    assert "resume needs a checkpoint file" in capsys.readouterr().err
    # the DCD the run wrote is gone: resuming cannot continue it
    (tmp_path / "run.dcd").unlink()
    assert main(_argv(peptide_pdb, model, tmp_path, 40, "--checkpoint", str(checkpoint), "--checkpoint-interval",
                      "20", "--resume")) == 2
    assert "run.dcd does not exist, and a resumed run appends to the file that the run wrote up to step 20" \
        in capsys.readouterr().err


def test_checkpoint_files_are_data(tmp_path, peptide_pdb, model_files):
    """A file that is not a checkpoint is refused by name; a checkpoint whose portable state is a
    System (which OpenMM would unpickle a PythonForce from) is refused before OpenMM reads it."""
    junk = tmp_path / "junk.chk"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="junk.chk is not an openmm-range MD checkpoint"):
        md_checkpoint.read_checkpoint(junk)

    checkpoint = tmp_path / "run.chk"
    assert main(_argv(peptide_pdb, model_files["range-schnet"], tmp_path, 20, "--checkpoint", str(checkpoint),
                      "--checkpoint-interval", "20")) == 0
    crafted = tmp_path / "crafted.chk"
    with zipfile.ZipFile(checkpoint) as src, zipfile.ZipFile(crafted, "w") as dst:
        dst.writestr("meta.json", src.read("meta.json"))
        dst.writestr("context.chk", b"\x00" * 16)  # unreadable: the portable state is used
        dst.writestr("state.xml", '<System openmmVersion="8.6" type="System" version="1"/>')
    saved = md_checkpoint.read_checkpoint(crafted)
    system = openmm.System()
    system.addParticle(1.0)
    context = openmm.Context(system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference"))
    with pytest.raises(ValueError, match="holds a 'System', not an OpenMM State; refused"):
        md_checkpoint.restore(context, saved)
    # a meta.json without the run's settings
    meta = dict(saved["meta"])
    del meta["settings"]
    bare = tmp_path / "bare.chk"
    with zipfile.ZipFile(checkpoint) as src, zipfile.ZipFile(bare, "w") as dst:
        dst.writestr("meta.json", json.dumps(meta))
        dst.writestr("context.chk", src.read("context.chk"))
        dst.writestr("state.xml", src.read("state.xml"))
    with pytest.raises(ValueError, match="bare.chk: the checkpoint holds no run settings"):
        md_checkpoint.read_checkpoint(bare)
