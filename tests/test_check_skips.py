"""scripts/check_skips.py (used by .ci/run) on real pytest JUnit reports of a small generated suite."""
import subprocess
import sys
from pathlib import Path

CHECKER = Path(__file__).resolve().parents[1] / "scripts" / "check_skips.py"

GPU_ONLY = '''
import pytest

@pytest.mark.skipif(True, reason="needs a CUDA GPU")
def test_gpu():
    pass

@pytest.mark.xfail(strict=False, reason="a known limitation")
def test_known_limitation():
    assert False

def test_runs():
    assert True
'''

MISSING_INPUT = GPU_ONLY + '''
@pytest.mark.parametrize("name", ["a.pdb", "b.pdb"])
def test_needs_a_file(name):
    pytest.skip(f"{name} is missing")
'''


def junit_report(tmp_path: Path, source: str) -> Path:
    """Run pytest on ``source`` (one test file in ``tmp_path``) and return its JUnit report."""
    (tmp_path / "test_generated.py").write_text(source)
    report = tmp_path / "junit.xml"
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}",
                           "test_generated.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return report


def check(*reports: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CHECKER), *map(str, reports)], capture_output=True, text=True,
                          timeout=60)


def test_gpu_skips_and_xfails_are_allowed(tmp_path):
    done = check(junit_report(tmp_path, GPU_ONLY))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 test cases, 1 skipped for a missing GPU, 1 xfail, 0 skipped for another reason" in done.stdout


def test_other_skips_fail_and_are_listed(tmp_path):
    done = check(junit_report(tmp_path, MISSING_INPUT))
    assert done.returncode == 1
    assert "2 skipped for another reason" in done.stdout
    assert "test_needs_a_file[a.pdb]: a.pdb is missing" in done.stdout
    assert "test_needs_a_file[b.pdb]: b.pdb is missing" in done.stdout
    assert "test_gpu" not in done.stdout


def test_missing_or_empty_report_is_an_error(tmp_path):
    missing = check(tmp_path / "absent.xml")
    assert missing.returncode == 2 and "absent.xml" in missing.stderr
    empty = tmp_path / "empty.xml"
    empty.write_text('<?xml version="1.0"?><testsuites><testsuite name="pytest" tests="0"/></testsuites>')
    done = check(empty)
    assert done.returncode == 2 and "holds no test case" in done.stderr
    assert check().returncode == 2
