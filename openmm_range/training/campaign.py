"""Campaigns: many training runs that span sessions and machines.

A campaign file (YAML) names its runs::

    name: longrange
    runs: [configs/study/longrange/range-schnet.yaml, configs/study/longrange/schnet.yaml]

``start`` launches a detached scheduler that keeps at most ``jobs`` runs training (default:
the number of CPU cores), each ``openmm-range train CONFIG --resume`` with one thread and its
output in ``OUT_DIR/train.log``, until every run has finished (``OUT_DIR/summary.json``).
Every run checkpoints atomically each epoch and resumes exactly, so stopping the machine
loses at most one epoch per run; starting the campaign again, on any machine with the same
checkout, continues it. ``status`` prints epoch, best validation force MAE, seconds per
epoch, ETA and CPU-hours (of the epochs kept) of each run; ``checkpoints`` lists the
checkpoint files of unfinished runs, which are committed (they are deliberately not
git-ignored) so that a fresh machine resumes them.
``stop`` ends the scheduler and the runs it is training; each run keeps its last finished epoch
(the epoch in progress is lost) and continues from there at the next ``start``. ``stop
--after-epoch`` ends the scheduler and asks each run to end once its epoch in progress is
checkpointed (``OUT_DIR/stop_request``), so nothing is lost.

The scheduler's log and pid are ``.campaigns/<campaign file stem>.{log,pid}`` below the
directory the campaign was started from. The scheduler writes each trainer's pid and launch time
into its run's ``.launched``, and the trainer writes its pid into the run's ``.lock`` once it
holds it; ``stop`` reaches a trainer by either (one still importing holds no lock yet).
"""
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import yaml

from ..serialization import atomic_write
from .config import TrainConfig
from .history import read_metrics
from .trainer import LAUNCHED_AT, STOP_REQUEST

#: written by the scheduler into a run directory: "PID LAUNCH_TIME" of the trainer it launched
LAUNCHED_FILE = ".launched"


@dataclass
class RunState:
    """Where one run of a campaign stands."""

    config: Path
    out_dir: Path
    epochs: int
    epoch: int  # epochs finished
    best_val_force_mae: Optional[float]  # meV/Å
    epoch_seconds: Optional[float]  # mean of the last three epochs
    finished: bool
    running: bool
    stopping: bool = False  # running, and asked to stop after its current epoch
    cpu_hours: Optional[float] = None  # the trainer's CPU time over the epochs in metrics.csv (not redone or lost ones)
    cpu_partial: bool = False  # some epochs in metrics.csv have no CPU time (older trainers): cpu_hours is a lower bound

    @property
    def eta_seconds(self) -> Optional[float]:
        if self.finished or self.epoch_seconds is None:
            return None
        return (self.epochs - self.epoch) * self.epoch_seconds


def read_campaign(path: str) -> List[Path]:
    """The config files of campaign ``path``; ValueError naming what is wrong."""
    with open(path) as handle:
        try:
            data = yaml.safe_load(handle) or {}
        except yaml.YAMLError as exc:
            raise ValueError(f"{path} is not valid YAML: {exc}") from None
    runs = data.get("runs") if isinstance(data, dict) else None
    if not isinstance(runs, list) or not runs or not all(isinstance(r, str) for r in runs):
        raise ValueError(f"{path}: a campaign file needs 'runs': a list of training config file paths")
    root = Path(path).resolve().parent
    out = []
    for item in runs:
        p = Path(item)
        p = p if p.is_file() else root / p
        if not p.is_file():
            raise FileNotFoundError(f"{path}: run config {item!r} does not exist")
        out.append(p)
    return out


def run_dir_locked(out_dir: Path) -> bool:
    """True while a trainer holds ``out_dir/.lock``."""
    lock = out_dir / ".lock"
    if not lock.exists():
        return False
    with open(lock, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:  # no file locks on this filesystem: the trainer holds none either
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def trainer_pid(out_dir: Path) -> Optional[int]:
    """The pid of the trainer holding ``out_dir/.lock``; None when none holds it (or it did not say)."""
    if not run_dir_locked(out_dir):
        return None
    try:
        return int((out_dir / ".lock").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def launched_trainer(config_path: Path, out_dir: Path) -> Optional[int]:
    """The pid of the trainer a scheduler launched for this run (``out_dir/.launched``) if it is
    still alive, locked or not yet; None otherwise. On Linux the process must be that run's
    ``openmm-range train`` (a pid the system has reused does not count)."""
    try:
        pid = int((out_dir / LAUNCHED_FILE).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    args = _process_args(pid)
    if args is None:
        return None
    if args and not ("openmm_range.cli.main" in args and "train" in args and str(config_path) in args):
        return None
    return pid


def _terminate(pid: int) -> bool:
    """SIGTERM ``pid``; False if it has already ended."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    return True


def scheduler_files(campaign: str) -> Tuple[Path, Path]:
    """The scheduler's log and pid file of ``campaign``."""
    stem = Path(".campaigns") / Path(campaign).stem
    return stem.with_suffix(".log"), stem.with_suffix(".pid")


def scheduler_pid(campaign: str) -> Optional[int]:
    """The pid of the live scheduler of ``campaign``, or None. A pid file left by a scheduler that has
    ended (and whose pid the system may have reused) does not count."""
    try:
        pid = int(scheduler_files(campaign)[1].read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    args = _process_args(pid)
    if args is None:
        return None
    text = "\0".join(args)
    if args and not ("training.campaign import schedule" in text
                     and json.dumps(str(Path(campaign).resolve())) in text):
        return None
    return pid


def _process_args(pid: int, wait_seconds: float = 2.0) -> Optional[List[str]]:
    """The command line of the live process ``pid``; None if it has ended (or is a zombie); ``[]``
    where the system does not tell (no ``/proc``: then only that it is alive is known).

    A process that a ``Popen`` has just returned may be a moment short of showing its arguments
    (the kernel closes the exec pipe that ``Popen`` waits on before it lays out the new program's
    arguments): an empty command line of a live process is read again until it shows, for up to
    ``wait_seconds``."""
    if not Path("/proc/self").exists():
        try:
            os.kill(pid, 0)
        except OSError:
            return None
        return []
    deadline = time.time() + wait_seconds
    while True:
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        if stat[stat.rfind(")") + 2:].startswith(("Z", "X")):  # ended, not yet reaped
            return None
        if raw or time.time() > deadline:
            return raw.decode(errors="replace").split("\0") if raw else None
        time.sleep(0.01)


def stop(campaign: str, wait_seconds: float = 60.0, after_epoch: bool = False) -> List[str]:
    """Stop the scheduler of ``campaign`` (so it starts nothing more), then every run of it that is
    training, including one whose trainer the scheduler has just launched and that is still
    importing (found by ``.launched``). Returns one line per process stopped (or asked to stop).
    Each run keeps its checkpoint of the last finished epoch (checkpoints are written atomically,
    so a stop never leaves a torn one).

    ``after_epoch``: instead of ending the trainers now (losing the epoch they are in), ask each to
    end once its current epoch is checkpointed (a ``stop_request`` file in its run directory, which
    holds the time it was asked) and return at once; ``campaign status`` shows them as stopping
    until they have ended. A request that a trainer launched later finds is older than its launch,
    and is discarded."""
    lines = []
    pid = scheduler_pid(campaign)
    if pid is not None:
        ended = not _terminate(pid)
        deadline = time.time() + 10.0  # after it has gone, it launches nothing more
        while scheduler_pid(campaign) is not None and time.time() < deadline:
            time.sleep(0.05)
        lines.append(f"the scheduler (pid {pid}) had already ended" if ended else f"stopped the scheduler (pid {pid})")
    for path in read_campaign(campaign):
        state = run_state(path)
        if state.finished:
            continue
        tpid = trainer_pid(state.out_dir) if state.running else launched_trainer(path, state.out_dir)
        if not state.running and tpid is None:
            continue
        if after_epoch:
            if state.epoch + 1 >= state.epochs:
                lines.append(f"{path}: in its last epoch ({state.epochs}); it finishes (not asked to stop)")
                continue
            _ask_to_stop(state.out_dir)
            minutes = "" if state.epoch_seconds is None else f"; an epoch takes about {state.epoch_seconds / 60:.0f} min"
            lines.append(f"{path}: asked to stop once the epoch in progress (about {state.epoch + 1}/{state.epochs}) "
                         f"is checkpointed{minutes}; to take it back: rm {state.out_dir / STOP_REQUEST}")
            continue
        if tpid is None:
            lines.append(f"{path}: training, but its lock names no pid (a trainer of an older version): "
                         f"stop it with kill")
            continue
        if not _terminate(tpid):
            lines.append(f"{path}: its trainer (pid {tpid}) had already ended")
            continue
        deadline = time.time() + wait_seconds
        while (run_dir_locked(state.out_dir) or launched_trainer(path, state.out_dir) == tpid) \
                and time.time() < deadline:
            time.sleep(0.2)
        left = " (still alive; check it)" if launched_trainer(path, state.out_dir) == tpid else ""
        lines.append(f"{path}: stopped the trainer (pid {tpid}){left}; it resumes at epoch "
                     f"{run_state(path).epoch}/{state.epochs}")
    return lines


def _ask_to_stop(out_dir: Path) -> None:
    """Write the run's ``stop_request`` (the trainer ends after its current epoch), with the time
    it was asked (compared with the trainer's launch time, from the same clock)."""
    atomic_write(out_dir / STOP_REQUEST, lambda tmp: Path(tmp).write_text(f"{time.time()!r} stop after this epoch\n"))


def run_state(config_path: Path) -> RunState:
    config = TrainConfig.from_yaml(str(config_path))
    out = Path(config.out_dir)
    rows = read_metrics(out)
    running = run_dir_locked(out)
    val = [float(r["val_force_mae_mev_a"]) for r in rows if r.get("val_force_mae_mev_a")]
    secs = [float(r["epoch_s"]) for r in rows[-3:] if r.get("epoch_s")]
    cpu = [float(r["epoch_cpu_s"]) for r in rows if r.get("epoch_cpu_s")]
    return RunState(config_path, out, int(config.epochs), len(rows), min(val) if val else None,
                    sum(secs) / len(secs) if secs else None, (out / "summary.json").exists(), running,
                    running and (out / STOP_REQUEST).exists(), sum(cpu) / 3600 if cpu else None,
                    0 < len(cpu) < len(rows))


def format_status(states: List[RunState]) -> str:
    lines = ["| run | state | epoch | best val force MAE (meV/Å) | s/epoch | ETA | CPU-h |",
             "|---|---|---|---|---|---|---|"]
    for s in states:
        state = "finished" if s.finished else ("stopping" if s.stopping else "training" if s.running else "waiting")
        eta = "-" if s.eta_seconds is None else f"{s.eta_seconds / 3600:.1f} h"
        best = "-" if s.best_val_force_mae is None else f"{s.best_val_force_mae:.1f}"
        per = "-" if s.epoch_seconds is None else f"{s.epoch_seconds:.0f}"
        cpu = "-" if s.cpu_hours is None else f"{'≥' if s.cpu_partial else ''}{s.cpu_hours:.2f}"
        lines.append(f"| {s.config} | {state} | {s.epoch}/{s.epochs} | {best} | {per} | {eta} | {cpu} |")
    return "\n".join(lines)


def _launch(config_path: Path, out_dir: Path) -> subprocess.Popen:
    """Start ``openmm-range train CONFIG --resume`` in its own session, one thread, its output in
    ``out_dir/train.log``; record its pid and launch time in ``out_dir/.launched``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    launched = time.time()
    env = dict(os.environ, OMP_NUM_THREADS="1", **{LAUNCHED_AT: repr(launched)})
    with open(out_dir / "train.log", "a") as log:
        proc = subprocess.Popen([sys.executable, "-m", "openmm_range.cli.main", "train", str(config_path),
                                 "--resume"], stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    atomic_write(out_dir / LAUNCHED_FILE, lambda tmp: Path(tmp).write_text(f"{proc.pid} {launched!r}\n"))
    return proc


def schedule(campaign: str, jobs: int, poll_seconds: float = 30.0, log=print) -> Dict[str, int]:
    """Keep up to ``jobs`` unfinished runs training until all have finished (or failed once).

    Returns the exit status of every run this call started."""
    configs = read_campaign(campaign)
    active: Dict[Path, subprocess.Popen] = {}
    status: Dict[str, int] = {}
    while True:
        for path, proc in list(active.items()):
            if proc.poll() is not None:
                status[str(path)] = proc.returncode
                log(f"[campaign] {path} exited with {proc.returncode}")
                del active[path]
        states = [run_state(p) for p in configs]
        waiting = [s for s in states if not s.finished and not s.running and str(s.config) not in status
                   and s.config not in active]
        busy = len(active) + sum(1 for s in states if s.running and s.config not in active)
        for s in waiting[:max(0, jobs - busy)]:
            log(f"[campaign] starting {s.config} at epoch {s.epoch}/{s.epochs}")
            active[s.config] = _launch(s.config, s.out_dir)
        if not active and not any(s.running for s in states):
            return status
        time.sleep(poll_seconds)


def start_detached(campaign: str, jobs: int) -> int:
    """Start :func:`schedule` in its own session (it outlives the caller); returns its pid, also
    written to the campaign's pid file. ValueError if this campaign's scheduler is already running."""
    running = scheduler_pid(campaign)
    if running is not None:
        raise ValueError(f"campaign {campaign} is already running (scheduler pid {running}); follow it with "
                         f"'openmm-range campaign status {campaign}' or end it with "
                         f"'openmm-range campaign stop {campaign}'")
    log_path, pid_path = scheduler_files(campaign)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(log_path, "a")
    code = (f"from openmm_range.training.campaign import schedule; "
            f"schedule({json.dumps(str(Path(campaign).resolve()))}, {int(jobs)})")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=handle, stderr=subprocess.STDOUT,
                            start_new_session=True)
    atomic_write(pid_path, lambda tmp: Path(tmp).write_text(f"{proc.pid}\n"))
    deadline = time.time() + 30.0  # until its exec is done, /proc shows the caller's command line
    while scheduler_pid(campaign) is None and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    return proc.pid
