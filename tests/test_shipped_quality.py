"""benchmarks/shipped_quality.py --runs (what scripts/publish_shipped.sh publishes) refuses while a
run of the current set is unfinished, so a pair is never published half new, half old."""
import fcntl
import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("shipped_quality", REPO / "benchmarks" / "shipped_quality.py")
quality = importlib.util.module_from_spec(spec)
spec.loader.exec_module(quality)


def test_unfinished_or_locked_runs_stop_publishing(tmp_path, monkeypatch):
    monkeypatch.setattr(quality, "ROOT", tmp_path)
    for name in ("schnet", "painn"):
        run = tmp_path / "runs" / "shipped" / name
        run.mkdir(parents=True)
        (run / "config.json").write_text("{}")
    (tmp_path / "runs" / "shipped" / "schnet" / "summary.json").write_text(json.dumps({}))
    painn = tmp_path / "runs" / "shipped" / "painn"
    assert quality.unfinished_runs() == [painn]  # no summary.json yet
    with pytest.raises(SystemExit, match="runs/shipped/painn unfinished"):
        quality.list_runs()
    (painn / "summary.json").write_text(json.dumps({}))
    assert quality.unfinished_runs() == []
    with open(painn / ".lock", "w") as lock:  # a trainer still writing its plots holds the lock
        fcntl.flock(lock, fcntl.LOCK_EX)
        assert quality.unfinished_runs() == [painn]
    assert quality.unfinished_runs() == []
