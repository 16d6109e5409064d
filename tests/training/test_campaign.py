"""Campaigns: the scheduler trains every unfinished run (at most ``jobs`` at a time) and
resumes a run that already has epochs; status and checkpoints report where runs stand."""
import math
import numpy as np
import pytest
import yaml

from openmm_range.data import Frames, save_frames
from openmm_range.data.generate.potentials import XTBPotential
from openmm_range.training.campaign import format_status, read_campaign, run_state, schedule
from openmm_range.training.history import read_metrics

WATER = np.array([[0.0, 0.0, 0.0], [0.9572, 0.0, 0.0], [-0.24, 0.9266, 0.0]])


def tiny_water(path):
    rng = np.random.default_rng(2)
    pos = [WATER + rng.normal(scale=0.05, size=(3, 3)) for _ in range(8)]
    labels = [XTBPotential(np.array([8, 1, 1]))(p) for p in pos]
    frames = Frames(z=np.tile([8, 1, 1], 8), pos=np.concatenate(pos), energy=np.array([e for e, _ in labels]),
                    forces=np.concatenate([f for _, f in labels]), n_atoms=np.full(8, 3),
                    mol_id=np.zeros(8, dtype=np.int64), charge=np.zeros(8, dtype=np.int64),
                    spin=np.zeros(8, dtype=np.int64), molecules=["O"], source="water")
    save_frames(frames, str(path))


def _long_run(tmp_path, epochs=100000, name="long"):
    if not (tmp_path / "water.npz").exists():
        tiny_water(tmp_path / "water.npz")
    cfg = {"data": [str(tmp_path / "water.npz")], "model": "schnet", "out_dir": str(tmp_path / "runs" / name),
           "epochs": epochs, "batch_size": 4, "split": [0.5, 0.25, 0.25], "threads": 1,
           "hyperparameters": {"hidden_channels": 8, "num_interactions": 1, "readout_layers": [8]}}
    (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(cfg))
    return tmp_path / f"{name}.yaml", tmp_path / "runs" / name


def test_schedule_trains_and_resumes_every_run(tmp_path):
    tiny_water(tmp_path / "water.npz")
    configs = []
    for name, epochs in (("a", 2), ("b", 1)):
        cfg = {"data": [str(tmp_path / "water.npz")], "model": "schnet", "out_dir": str(tmp_path / "runs" / name),
               "epochs": epochs, "batch_size": 4, "split": [0.5, 0.25, 0.25], "threads": 1,
               "hyperparameters": {"hidden_channels": 8, "num_interactions": 1, "readout_layers": [8]}}
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(cfg))
        configs.append(str(tmp_path / f"{name}.yaml"))
    campaign = tmp_path / "campaign.yaml"
    campaign.write_text(yaml.safe_dump({"name": "t", "runs": configs}))
    assert [str(p) for p in read_campaign(str(campaign))] == configs
    before = [run_state(p) for p in read_campaign(str(campaign))]
    assert [(s.epoch, s.finished, s.running) for s in before] == [(0, False, False), (0, False, False)]
    status = schedule(str(campaign), jobs=1, poll_seconds=0.2, log=lambda *_: None)
    assert set(status.values()) == {0}
    after = [run_state(p) for p in read_campaign(str(campaign))]
    assert [(s.epoch, s.finished) for s in after] == [(2, True), (1, True)]
    assert "finished" in format_status(after) and "2/2" in format_status(after)
    cpu_s = sum(float(r["epoch_cpu_s"]) for r in read_metrics(tmp_path / "runs" / "a"))
    assert after[0].cpu_hours == pytest.approx(cpu_s / 3600) and cpu_s > 0
    assert format_status(after).splitlines()[2].endswith(f"| {cpu_s / 3600:.2f} |") and not after[0].cpu_partial
    import csv  # a second epoch as an older trainer wrote it, without CPU time: CPU-h is a lower bound
    metrics = tmp_path / "runs" / "b" / "metrics.csv"
    rows = list(csv.DictReader(metrics.open()))
    with metrics.open("a", newline="") as handle:
        csv.DictWriter(handle, fieldnames=list(rows[0])).writerow(dict(rows[0], epoch="2", epoch_cpu_s=""))
    partial = run_state(read_campaign(str(campaign))[1])
    assert partial.cpu_partial and partial.cpu_hours == pytest.approx(float(rows[0]["epoch_cpu_s"]) / 3600)
    assert format_status([partial]).splitlines()[2].endswith(f"| ≥{partial.cpu_hours:.2f} |")
    # a finished campaign starts nothing; a longer run resumes from its checkpoint
    cfg_a = yaml.safe_load(open(configs[0]))
    cfg_a["epochs"] = 3
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(cfg_a))
    (tmp_path / "runs" / "a" / "summary.json").unlink()
    assert schedule(str(campaign), jobs=2, poll_seconds=0.2, log=lambda *_: None) == {configs[0]: 0}
    assert run_state(read_campaign(str(campaign))[0]).epoch == 3
    log = (tmp_path / "runs" / "a" / "train.log").read_text()
    assert f"resuming {tmp_path / 'runs' / 'a'} at epoch 2" in log
    assert "epoch 3: loss" in log and "batch/s" not in log  # one line per epoch, no progress bars in a file


def test_convergence_gain_is_the_last_fifth_improvement_of_the_best():
    from openmm_range.training.history import convergence_gain

    val = [100.0, 80.0, 70.0, 65.0, 60.0, 61.0, 59.0, 58.0, 57.0, 54.0]  # best of the first 8: 58
    assert convergence_gain(val, 10) == pytest.approx(100 * (58.0 - 54.0) / 58.0)
    assert math.isnan(convergence_gain(val[:8], 10))  # NaN until 80 % have run
    assert convergence_gain([5.0, 4.0, 6.0, 7.0, 8.0], 5) == 0.0  # no improvement late


def test_a_bad_campaign_file_is_refused_by_name(tmp_path):
    for text, error, message in (("runs: [a.yaml\n", ValueError, "is not valid YAML"),
                                 ("runs: [{a: 1}]\n", ValueError, "a list of training config"),
                                 ("runs: [missing.yaml]\n", FileNotFoundError, "run config 'missing.yaml' does not exist")):
        path = tmp_path / "c.yaml"
        path.write_text(text)
        with pytest.raises(error, match=message):
            read_campaign(str(path))


def test_stop_ends_scheduler_and_trainer_and_the_run_resumes(tmp_path, monkeypatch):
    """``campaign stop``: the detached scheduler and its trainer end, the run keeps its finished
    epochs, a second ``start`` of a running campaign is refused, and a start after the stop resumes."""
    import time

    from openmm_range.training.campaign import scheduler_pid, start_detached, stop, trainer_pid

    monkeypatch.chdir(tmp_path)
    _, out = _long_run(tmp_path)
    campaign = tmp_path / "c.yaml"
    campaign.write_text(yaml.safe_dump({"name": "c", "runs": [str(tmp_path / "long.yaml")]}))

    def wait_for(cond, seconds=120.0):
        deadline = time.time() + seconds
        while not cond():
            assert time.time() < deadline, "timed out"
            time.sleep(0.2)

    try:
        pid = start_detached(str(campaign), 1)
        assert scheduler_pid(str(campaign)) == pid
        with pytest.raises(ValueError, match="already running"):
            start_detached(str(campaign), 1)
        wait_for(lambda: run_state(tmp_path / "long.yaml").epoch >= 2)
        trainer = trainer_pid(out)
        assert trainer is not None and trainer != pid
        lines = stop(str(campaign))
        assert any(f"pid {pid}" in line for line in lines) and any(f"pid {trainer}" in line for line in lines)
        assert not run_state(tmp_path / "long.yaml").running and trainer_pid(out) is None
        wait_for(lambda: scheduler_pid(str(campaign)) is None, 30.0)
        stopped_at = run_state(tmp_path / "long.yaml").epoch
        assert stopped_at >= 2 and not (out / "summary.json").exists()
        start_detached(str(campaign), 1)  # the stale pid file does not block a new start
        wait_for(lambda: run_state(tmp_path / "long.yaml").epoch > stopped_at)
        assert f"resuming {out} at epoch" in (out / "train.log").read_text()
    finally:
        stop(str(campaign))
    assert not run_state(tmp_path / "long.yaml").running


def test_a_stop_request_ends_the_trainer_after_the_epoch_it_is_in(tmp_path):
    """The request (``campaign stop --after-epoch``) is honoured once the epoch is checkpointed:
    nothing is lost, the run is not marked finished, and it resumes; a request left from a trainer
    that has ended does not stop the next one."""
    import torch

    from openmm_range.training import TrainConfig, train
    from openmm_range.training.trainer import STOP_REQUEST

    path, out = _long_run(tmp_path, epochs=4)
    config = TrainConfig.from_yaml(str(path))

    def log(line):  # asked in the middle of epoch 2's bookkeeping, as a user would between epochs
        if line.startswith("epoch 2: loss"):
            (out / STOP_REQUEST).write_text("")

    summary = train(config, log=log)
    assert summary == {"stopped_after_epoch": 2, "epochs": 4, "out_dir": str(out)}
    assert not (out / STOP_REQUEST).exists() and not (out / "summary.json").exists()
    assert run_state(path).epoch == 2
    assert torch.load(out / "checkpoint.pt", weights_only=True)["epoch"] == 1  # epoch 2 (0-based 1) is saved
    (out / STOP_REQUEST).write_text("")  # stale: its trainer has ended

    def log_last(line):  # a request during the last epoch: the run finishes all the same
        if line.startswith("epoch 4: loss"):
            (out / STOP_REQUEST).write_text("")

    summary = train(config, resume=True, log=log_last)
    assert summary["epochs_run"] == 4 and (out / "summary.json").exists() and not (out / STOP_REQUEST).exists()


def test_a_request_after_the_launch_is_kept_and_an_older_one_discarded(tmp_path, monkeypatch):
    """A trainer launched by a scheduler (its launch time in LAUNCHED_AT) keeps a stop request
    written after its launch, though it finds it before taking its lock (it was still importing
    when ``campaign stop --after-epoch`` ran), and discards one written before."""
    import os
    import time

    from openmm_range.training import TrainConfig, train
    from openmm_range.training.trainer import LAUNCHED_AT, STOP_REQUEST

    path, out = _long_run(tmp_path, epochs=3)
    out.mkdir(parents=True)
    launched = time.time()
    # asked of a trainer that has ended, 60 s before this launch by the time it holds (its mtime,
    # from the file system's clock, says later: the time written in it is what counts)
    (out / STOP_REQUEST).write_text(f"{launched - 60!r} stop after this epoch\n")
    os.utime(out / STOP_REQUEST, (launched + 1, launched + 1))
    monkeypatch.setenv(LAUNCHED_AT, repr(launched))
    assert train(TrainConfig.from_yaml(str(path)))["epochs_run"] == 3
    assert not (out / STOP_REQUEST).exists()

    path, out = _long_run(tmp_path, epochs=3, name="late")
    out.mkdir(parents=True)
    monkeypatch.setenv(LAUNCHED_AT, repr(time.time() - 5))  # launched 5 s ago, asked now
    (out / STOP_REQUEST).write_text("")
    summary = train(TrainConfig.from_yaml(str(path)))
    assert summary == {"stopped_after_epoch": 1, "epochs": 3, "out_dir": str(out)}


def test_status_shows_a_run_asked_to_stop():
    from pathlib import Path

    from openmm_range.training.campaign import RunState

    asked = RunState(Path("a.yaml"), Path("runs/a"), 10, 3, 50.0, 60.0, False, True, True, 0.05)
    running = RunState(Path("b.yaml"), Path("runs/b"), 10, 3, 50.0, 60.0, False, True, False, 0.05, True)
    table = format_status([asked, running]).splitlines()
    assert "| stopping | 3/10 |" in table[2] and "| training | 3/10 |" in table[3]
    assert table[2].endswith("| 0.05 |") and table[3].endswith("| ≥0.05 |")  # some epochs without CPU time


def test_campaign_stop_after_epoch_keeps_the_epoch_in_progress(tmp_path, monkeypatch):
    """The training run stops after its epoch; a run waiting its turn (never launched) is not
    asked, so no request is left lying in its directory."""
    import time

    import torch

    from openmm_range.training.campaign import start_detached, stop

    monkeypatch.chdir(tmp_path)
    path, out = _long_run(tmp_path)
    second, second_out = _long_run(tmp_path, name="second")
    second_out.mkdir(parents=True)
    campaign = tmp_path / "c.yaml"
    campaign.write_text(yaml.safe_dump({"name": "c", "runs": [str(path), str(second)]}))
    try:
        start_detached(str(campaign), 1)
        deadline = time.time() + 120
        while run_state(path).epoch < 2:
            assert time.time() < deadline, "timed out"
            time.sleep(0.2)
        lines = stop(str(campaign), after_epoch=True)
        assert any("asked to stop once the epoch in progress" in line for line in lines)
        assert not (second_out / "stop_request").exists() and not any("second" in line for line in lines)
        while run_state(path).running:
            assert time.time() < deadline, "timed out"
            time.sleep(0.2)
    finally:
        stop(str(campaign))
    log = (out / "train.log").read_text()
    stopped = run_state(path).epoch
    assert f"stopped after epoch {stopped} as requested" in log
    assert torch.load(out / "checkpoint.pt", weights_only=True)["epoch"] == stopped - 1  # the last epoch is saved
    assert not (out / "summary.json").exists() and not (out / "stop_request").exists()
    assert "Traceback" not in log


@pytest.mark.parametrize("after_epoch", [False, True])
def test_campaign_stop_reaches_a_trainer_launched_a_moment_ago(tmp_path, monkeypatch, after_epoch):
    """A trainer the scheduler has just launched may still be importing, holding no lock: ``stop``
    finds it by the pid the scheduler recorded (``.launched``) and ends it, or asks it to stop
    after its epoch, instead of leaving it to train on with no scheduler. (Had it taken its lock
    by then, the running-run path stops it: either way it must not train to its end.)"""
    import time

    from openmm_range.training.campaign import LAUNCHED_FILE, _launch, stop

    monkeypatch.chdir(tmp_path)
    path, out = _long_run(tmp_path, epochs=50)
    campaign = tmp_path / "c.yaml"
    campaign.write_text(yaml.safe_dump({"name": "c", "runs": [str(path)]}))
    proc = _launch(path, out)
    try:
        assert (out / LAUNCHED_FILE).read_text().split()[0] == str(proc.pid)
        lines = stop(str(campaign), after_epoch=after_epoch)
        log = (out / "train.log").read_text() if (out / "train.log").exists() else ""
        assert len(lines) == 1 and str(path) in lines[0], (lines, proc.poll(), log[-2000:])
        proc.wait(timeout=120)
    finally:
        proc.kill()
        proc.wait()
    state = run_state(path)
    assert not state.finished and state.epoch < 50
    assert not (out / "stop_request").exists()
    if after_epoch:  # it trained one epoch, kept it, and ended
        assert state.epoch == 1 and "stopped after epoch 1 as requested" in (out / "train.log").read_text()
    else:
        assert proc.returncode != 0


def test_train_stopped_on_request_exits_with_its_own_status(tmp_path):
    """``openmm-range train`` ends with status 3 (not 0) when it stopped on request unfinished."""
    import subprocess
    import sys
    import time

    from openmm_range.cli.train_cmd import STOPPED_EXIT_CODE
    from openmm_range.training.trainer import STOP_REQUEST

    path, out = _long_run(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "openmm_range.cli.main", "train", str(path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while run_state(path).epoch < 1:
            assert time.time() < deadline and proc.poll() is None, "the run did not start"
            time.sleep(0.2)
        (out / STOP_REQUEST).write_text("")
        assert proc.wait(timeout=120) == STOPPED_EXIT_CODE == 3
    finally:
        proc.kill()
    assert not (out / "summary.json").exists()


def test_process_args_of_a_process_popen_has_just_returned():
    """``Popen`` returns before the kernel shows the new program's arguments (an empty
    ``/proc/PID/cmdline`` for a moment): the campaign's pid checks wait that out instead of
    taking a trainer launched an instant ago for some other process. An ended (zombie) process
    counts as gone."""
    import subprocess
    import sys
    import time

    from openmm_range.training.campaign import _process_args

    for _ in range(20):
        proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)", "marker"])
        try:
            args = _process_args(proc.pid)
        finally:
            proc.kill()
        assert args is not None and "marker" in args, args
        deadline = time.time() + 10
        while _process_args(proc.pid, wait_seconds=0) is not None and time.time() < deadline:
            time.sleep(0.01)
        assert _process_args(proc.pid, wait_seconds=0) is None  # killed, not yet reaped
        proc.wait()
