"""Fail when a test run skipped anything for a reason other than a missing CUDA GPU.

    python scripts/check_skips.py REPORT.xml [REPORT.xml ...]

Reads pytest's JUnit XML report(s) (``pytest --junitxml=REPORT.xml``). A skipped test is
allowed only if its reason contains ``GPU_REASON`` ("needs a CUDA GPU"), the reason every
GPU-only test uses (tests/openmm/test_openmm_cuda.py). Expected failures (``xfail``) are not
skips and are allowed. Exit status: 0 when every skip is a GPU skip, 1 when some are not (they
are listed), 2 when a report is missing, unreadable or holds no test case.
"""
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import List, Tuple

#: The phrase a skip reason must contain to be allowed: the test needs a CUDA GPU.
GPU_REASON = "needs a CUDA GPU"


def skips(report: Path) -> Tuple[int, List[Tuple[str, str]], int]:
    """(number of test cases, [(test id, reason)] of every skip, number of xfails) in ``report``."""
    root = ET.parse(report).getroot()
    cases = list(root.iter("testcase"))
    found, xfails = [], 0
    for case in cases:
        for skipped in case.findall("skipped"):
            if skipped.get("type") == "pytest.xfail":
                xfails += 1
                continue
            test_id = "::".join(part for part in (case.get("classname"), case.get("name")) if part)
            reason = skipped.get("message") or (skipped.text or "").strip()
            found.append((test_id, reason))
    return len(cases), found, xfails


def main(argv: List[str]) -> int:
    if not argv:
        print("usage: python scripts/check_skips.py REPORT.xml [REPORT.xml ...] (pytest --junitxml reports)",
              file=sys.stderr)
        return 2
    bad, allowed, total, xfails = [], 0, 0, 0
    for name in argv:
        path = Path(name)
        try:
            n_cases, found, n_xfail = skips(path)
        except (OSError, ET.ParseError) as exc:
            print(f"check_skips: cannot read the pytest JUnit report {path}: {exc}", file=sys.stderr)
            return 2
        if n_cases == 0:
            print(f"check_skips: the pytest JUnit report {path} holds no test case", file=sys.stderr)
            return 2
        total += n_cases
        xfails += n_xfail
        for test_id, reason in found:
            if GPU_REASON in reason:
                allowed += 1
            else:
                bad.append((test_id, reason))
    print(f"check_skips: {total} test cases, {allowed} skipped for a missing GPU, {xfails} xfail, "
          f"{len(bad)} skipped for another reason")
    for test_id, reason in bad:
        print(f"  SKIPPED (not allowed) {test_id}: {reason}")
    if bad:
        print(f"check_skips: only skips whose reason contains {GPU_REASON!r} are allowed; "
              "every other input a test needs must be in the repository", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
