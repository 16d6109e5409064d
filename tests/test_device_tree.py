"""scripts/device_tree.sh keeps the training sets and runs off a device call and restores them exactly,
on a local clone of this repository (the checkout itself is never touched)."""
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(cmd, cwd):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=True).stdout


def test_shrink_fits_a_device_call_and_restore_is_exact(tmp_path):
    if not (REPO / ".git").exists():
        pytest.fail("the test needs the git checkout (scripts/device_tree.sh works on git's index)")
    clone = tmp_path / "clone"
    _run(["git", "clone", "-q", "--local", str(REPO), str(clone)], tmp_path)
    _run(["cp", str(REPO / "scripts" / "device_tree.sh"), str(clone / "scripts" / "device_tree.sh")], tmp_path)
    before = float(_run(["bash", "scripts/device_tree.sh", "size"], clone).split()[0])
    after = float(_run(["bash", "scripts/device_tree.sh", "shrink"], clone).split()[0])
    assert after < 60 < before + 4  # room for the ~4 MB wheelhouse; the full tree does not leave it
    assert (clone / "data" / "organic-xtb" / "meta.json").is_file()  # files stay on disk
    status = _run(["git", "status", "--porcelain"], clone)
    assert "data/organic-xtb" in status and "?? data/" not in status  # untracked and ignored
    _run(["bash", "scripts/device_tree.sh", "restore"], clone)
    assert _run(["git", "status", "--porcelain", "--", "data", "benchmarks/results", "runs"], clone) == ""
    assert _run(["git", "ls-files", "runs"], clone) == _run(["git", "ls-tree", "-r", "--name-only", "HEAD", "runs"], REPO)
    exclude = (clone / ".git" / "info" / "exclude").read_text()
    assert "/data/" not in exclude and "/benchmarks/" not in exclude and "/runs/" not in exclude
