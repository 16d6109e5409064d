"""scripts/device_check.sh: the prepared GPU check, run here as its CPU dry run.

The dry run executes every step of the GPU check (CUDA tests, MD throughput at widths 64
and 128 with and without CUDA graphs, the model-size scan, the summary) on the CPU with
tiny sizes, in this interpreter's environment. Any failed or timed-out step fails the test.
"""
import csv
import importlib.util
import json
import math
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "device_check.sh"
STEPS = ["setup", "tests", "md_w64", "scaling", "md_w128", "summary"]
MD_COLUMNS = {"platform", "system", "model", "cutoff_A", "backend", "cuda_graphs", "backend_used", "hidden_channels",
              "ml_atoms", "particles", "median_ms_per_step", "ns_per_day", "error"}
SCALING_COLUMNS = {"n_atoms", "system", "device", "width", "schnet_s", "range-schnet_s", "schnet_cpu_s",
                   "range-schnet_cpu_s", "ratio"}


def run_script(*args, env_extra=None, timeout=900):
    env = {k: v for k, v in os.environ.items() if k != "OUT"}
    env.update(PYTHON=sys.executable, OMP_NUM_THREADS="1", **(env_extra or {}))
    return subprocess.run(["bash", str(SCRIPT), *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    """The results folder of one dry run, and its completed process."""
    out = tmp_path_factory.mktemp("device-check") / "device_check"
    proc = run_script("--dry-run", "--out", str(out))
    return out, proc


def read_csv(path: Path):
    assert path.is_file() and path.stat().st_size > 0, f"{path.name} missing or empty"
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_dry_run_exits_zero_and_every_step_is_ok(dry_run):
    out, proc = dry_run
    tail = (proc.stdout + proc.stderr)[-4000:]
    assert proc.returncode == 0, f"device_check.sh --dry-run exited {proc.returncode}:\n{tail}"
    rows = [line.split("\t") for line in (out / "steps.tsv").read_text().splitlines()]
    assert [r[0] for r in rows] == STEPS, tail
    failed = [f"{r[0]}: {r[1]} (rc {r[2]})" for r in rows if r[1] != "ok"]
    assert not failed, f"steps not ok: {failed}\n{tail}"
    for step in STEPS:
        assert (out / f"{step}.log").is_file(), f"no log of step {step}"
    assert "all steps ok" in proc.stdout


def test_cuda_tests_ran_and_are_recorded(dry_run):
    out, _ = dry_run
    cases = list(ET.parse(out / "tests_cuda.xml").getroot().iter("testcase"))
    names = {c.get("name") for c in cases}
    assert {"test_pythonforce_replays_a_cuda_graph", "test_cuda_platform_matches_reference[python]"} <= names
    outcomes = {c.get("name"): [child.tag for child in c] for c in cases}
    assert not [n for n, tags in outcomes.items() if "failure" in tags or "error" in tags]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["tests"]["tests"] == len(cases)
    if not torch.cuda.is_available():  # the dry run's expectation: all skip, and the summary says so
        assert all(tags == ["skipped"] for tags in outcomes.values()), outcomes
        assert summary["tests"]["skipped"] == len(cases)


@pytest.mark.parametrize("width", [64, 128])
def test_md_throughput_results(dry_run, width):
    out, _ = dry_run
    rows = read_csv(out / f"md_throughput_CPU_w{width}.csv")
    assert MD_COLUMNS <= set(rows[0]), sorted(MD_COLUMNS - set(rows[0]))
    configs = {(r["system"], r["model"], float(r["cutoff_A"]), r["cuda_graphs"]) for r in rows}
    expected = {(system, model, cutoff, graphs) for system in ("dha-vacuum", "alanine-water")
                for model, cutoff in (("range-schnet", 5.0), ("schnet", 5.0), ("schnet", 12.0))
                for graphs in ("on", "off")}
    assert configs == expected
    for r in rows:
        assert r["platform"] == "CPU" and r["backend"] == "python" and r["backend_used"] == "python"
        assert int(r["hidden_channels"]) == width
        assert r["error"] == "", r
        assert math.isfinite(float(r["ns_per_day"])) and float(r["ns_per_day"]) > 0, r
    text = (out / f"md_throughput_CPU_w{width}.md").read_text()
    assert f"width {width}" in text and "| dha-vacuum | range-schnet | 5 | python | on |" in text


def test_model_scaling_results(dry_run):
    out, _ = dry_run
    rows = read_csv(out / "model_scaling_cpu.csv")
    assert SCALING_COLUMNS <= set(rows[0]), sorted(SCALING_COLUMNS - set(rows[0]))
    sizes = [int(r["n_atoms"]) for r in rows]
    assert len(sizes) == 2 and sizes == sorted(sizes) and max(sizes) <= 400
    assert all(float(r["range-schnet_cpu_s"]) > 0 and float(r["schnet_cpu_s"]) > 0 for r in rows)
    scan = json.loads((out / "model_scaling_cpu.json").read_text())
    assert scan["largest_n"] == max(sizes) and scan["sizes_done"] == sizes


def test_summary_lists_steps_and_targets(dry_run):
    out, _ = dry_run
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ok"] is True and summary["mode"] == "dry-run" and summary["problems"] == []
    assert summary["env"]["openmm"] and "CPU" in summary["env"]["platforms"]
    assert [s["name"] for s in summary["steps"]] == STEPS[:-1]  # the summary step is recorded after it ran
    dha = summary["targets"]["dha_range_schnet_w64"]
    assert {d["cuda_graphs"] for d in dha} == {"on", "off"}
    assert all(d["met"] is None and d["ns_per_day"] > 0 for d in dha)  # no verdict off the CUDA platform
    ratios = summary["targets"]["range_over_schnet_per_step"]
    assert {(r["system"], r["width"], r["cuda_graphs"]) for r in ratios} == {
        (s, w, g) for s in ("dha-vacuum", "alanine-water") for w in (64, 128) for g in ("on", "off")}
    assert all(r["ratio"] > 0 for r in ratios)
    text = (out / "summary.md").read_text()
    assert text.startswith("# Device check (dry-run)") and "**OK**" in text and "| md_w128 | ok |" in text


def load_summary_module():
    spec = importlib.util.spec_from_file_location("device_summary", REPO / "scripts" / "device_summary.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_summary_judges_the_cuda_targets(dry_run, tmp_path):
    """The GPU verdicts, on the dry run's files relabelled as CUDA results with set step times."""
    out, _ = dry_run
    rows = read_csv(out / "md_throughput_CPU_w64.csv")
    step_ms = {("dha-vacuum", "range-schnet", "on"): 0.30, ("dha-vacuum", "schnet", "on"): 0.29,
               ("dha-vacuum", "range-schnet", "off"): 0.40, ("dha-vacuum", "schnet", "off"): 0.30}
    for r in rows:
        r["platform"] = "CUDA"
        ms = step_ms.get((r["system"], r["model"], r["cuda_graphs"]), 1.0)
        r["median_ms_per_step"], r["ns_per_day"] = ms, 2e-6 * 86400e3 / ms
    with open(tmp_path / "md_throughput_CUDA_w64.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    targets = load_summary_module().summarize(tmp_path, "gpu")["targets"]
    dha = {d["cuda_graphs"]: d["met"] for d in targets["dha_range_schnet_w64"]}
    assert dha == {"on": True, "off": False}  # 576 and 432 ns/day against 500
    ratio = {(r["system"], r["cuda_graphs"]): r["met"] for r in targets["range_over_schnet_per_step"]}
    assert ratio[("dha-vacuum", "on")] is True and ratio[("dha-vacuum", "off")] is False  # 1.03 and 1.33 vs 1.1


def test_bad_arguments_are_clear_errors(tmp_path):
    proc = run_script("--bogus")
    assert proc.returncode == 2 and "unknown argument '--bogus'" in proc.stderr and "--dry-run" in proc.stderr
    proc = run_script("--dry-run", "--budget", "10")
    assert proc.returncode == 2 and "--budget must be 60..3600 seconds, got 10" in proc.stderr
    proc = run_script("--dry-run", "--only", "tests,warp")
    assert proc.returncode == 2 and "unknown step 'warp'" in proc.stderr and "md_w64" in proc.stderr
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("not a device check\n")
    proc = run_script("--dry-run", "--out", str(busy))
    assert proc.returncode == 2 and "is not empty" in proc.stderr
    assert (busy / "notes.txt").is_file()
    (tmp_path / "out").mkdir()
    proc = run_script("--dry-run", "--out", str(tmp_path / "out" / "inside"), env_extra={"OUT": str(tmp_path / "out")})
    assert proc.returncode == 2 and "lies inside $OUT" in proc.stderr
    assert not (tmp_path / "out" / "inside").exists()
