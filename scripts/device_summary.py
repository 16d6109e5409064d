"""Summary of one ``scripts/device_check.sh`` run: ``summary.json`` and ``summary.md`` in its folder.

Reads what the steps wrote into the results folder (``steps.tsv``, ``tests_cuda.xml``,
``md_throughput_<platform>_w<width>.csv``, ``model_scaling_<device>.json``, ``env.json``) and
checks the GPU targets of issue 10:

* DHA (56 atoms, vacuum) at 2 fs with range-schnet of width 64: >= 500 ns/day;
* RANGE per MD step <= 1.1 x SchNet per step at the same width and cutoff (5 Å), per
  system, width and CUDA-graph setting;
* model_scaling: the largest N that fitted on the GPU (goal 250,000 atoms).

Targets are measurements, not failures: the exit status is 1 only when the check itself
went wrong (a step failed or timed out, a test failed, an expected file is missing, or on a
GPU run a CUDA test was skipped for a reason other than the absent openmmtorch). Targets are
evaluated on the CUDA platform only; a ``--mode dry-run`` summary lists the CPU numbers with
the target marked "n/a".

    python scripts/device_summary.py RESULTS_DIR --mode gpu|dry-run
"""
import argparse
import csv
import json
import math
import os
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Dict, List

DHA_TARGET_NS_PER_DAY = 500.0
STEP_RATIO_TARGET = 1.1
SCALING_GOAL_ATOMS = 250_000
#: Skip reasons that are expected on the GPU machine (openmmtorch 1.5 needs torch 2.9).
EXPECTED_GPU_SKIPS = ("torchforce", "openmmtorch", "openmm-torch")


def read_steps(folder: Path) -> List[Dict]:
    """Rows of steps.tsv: name, status (ok/failed/timeout/skipped), rc, seconds, limit_s, note."""
    path = folder / "steps.tsv"
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        name, status, rc, seconds, limit, note = (line.split("\t") + [""] * 6)[:6]
        rows.append({"name": name, "status": status, "rc": int(rc) if rc.lstrip("-").isdigit() else None,
                     "seconds": float(seconds or 0), "limit_s": float(limit or 0), "note": note})
    return rows


def read_junit(path: Path) -> Dict:
    """Counts and skip reasons of a pytest junit XML file."""
    root = ET.parse(path).getroot()
    cases = root.iter("testcase")
    result = {"file": path.name, "tests": 0, "passed": 0, "failed": 0, "errors": 0, "skipped": 0, "cases": []}
    for case in cases:
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        outcome, reason = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed", "error": "errors", "skipped": "skipped"}[child.tag]
                reason = (child.get("message") or "")[:200]
        result["tests"] += 1
        result[outcome] += 1
        result["cases"].append({"test": name, "outcome": "error" if outcome == "errors" else outcome,
                                "reason": reason})
    return result


def read_md(folder: Path) -> List[Dict]:
    rows = []
    for path in sorted(folder.glob("md_throughput_*.csv")):
        with open(path, newline="") as fh:
            for r in csv.DictReader(fh):
                r["file"] = path.name
                rows.append(r)
    return rows


def number(text) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return float("nan")


def md_targets(rows: List[Dict]) -> Dict:
    """DHA ns/day of range-schnet 5 Å width 64, and range5/schnet5 step-time ratios."""
    dha = []
    for r in rows:
        if r["system"] == "dha-vacuum" and r["model"] == "range-schnet" and number(r["cutoff_A"]) == 5.0 \
                and int(r["hidden_channels"]) == 64:
            value = number(r["ns_per_day"])
            dha.append({"platform": r["platform"], "backend": r["backend"], "cuda_graphs": r["cuda_graphs"],
                        "ns_per_day": value, "target": DHA_TARGET_NS_PER_DAY,
                        "met": verdict(r["platform"], value >= DHA_TARGET_NS_PER_DAY, value)})
    by = {(r["platform"], r["system"], r["backend"], r["cuda_graphs"], int(r["hidden_channels"]), r["model"],
           number(r["cutoff_A"])): number(r["median_ms_per_step"]) for r in rows}
    ratios = []
    for (platform, system, backend, graphs, width, model, cutoff), ms in sorted(by.items()):
        if model != "range-schnet" or cutoff != 5.0:
            continue
        base = by.get((platform, system, backend, graphs, width, "schnet", 5.0), float("nan"))
        ratio = ms / base if base == base and base > 0 else float("nan")
        ratios.append({"platform": platform, "system": system, "backend": backend, "cuda_graphs": graphs,
                       "width": width, "range_ms": ms, "schnet_ms": base, "ratio": ratio,
                       "target": STEP_RATIO_TARGET, "met": verdict(platform, ratio <= STEP_RATIO_TARGET, ratio)})
    return {"dha_range_schnet_w64": dha, "range_over_schnet_per_step": ratios}


def verdict(platform: str, met: bool, value: float):
    """True/False on CUDA; None (n/a) on other platforms or for a missing value."""
    if platform != "CUDA" or value != value:
        return None
    return bool(met)


def scaling(folder: Path) -> List[Dict]:
    found = []
    for path in sorted(folder.glob("model_scaling_*.json")):
        data = json.loads(path.read_text())
        data["file"] = path.name
        data["goal_atoms"] = SCALING_GOAL_ATOMS
        largest = data.get("largest_n") or 0
        data["goal_met"] = None if path.stem.endswith("_cpu") else largest >= SCALING_GOAL_ATOMS
        found.append(data)
    return found


def clean(value):
    """JSON-safe: NaN/inf -> None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


def fmt(value, digits=3) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "n/a"
    if isinstance(value, bool):
        return "met" if value else "MISSED"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e4 else f"{value:.0f}"
    return str(value)


def summarize(folder: Path, mode: str) -> Dict:
    problems, warnings = [], []
    steps = read_steps(folder)
    for s in steps:
        if s["status"] != "ok" and s["name"] != "summary":
            limit = f" of {s['limit_s']:.0f} s" if s["limit_s"] else ""
            problems.append(f"step {s['name']}: {s['status']} (rc {s['rc']}, {s['seconds']:.0f} s{limit})"
                            f"{': ' + s['note'] if s['note'] else ''}")
    env_path = folder / "env.json"
    env = json.loads(env_path.read_text()) if env_path.is_file() else {}
    junit = folder / "tests_cuda.xml"
    tests = read_junit(junit) if junit.is_file() else None
    if tests is None:
        problems.append("tests_cuda.xml missing: the CUDA tests did not run")
    else:
        if tests["failed"] or tests["errors"]:
            problems.append(f"CUDA tests: {tests['failed']} failed, {tests['errors']} errors")
        if tests["tests"] == 0:
            problems.append("CUDA tests: none collected")
        for case in tests["cases"]:
            if case["outcome"] == "skipped" and mode == "gpu" \
                    and not any(word in (case["test"] + case["reason"]).lower() for word in EXPECTED_GPU_SKIPS):
                problems.append(f"CUDA test skipped on the GPU run: {case['test']} ({case['reason']})")
    md = read_md(folder)
    if not md:
        problems.append("no md_throughput_*.csv: the MD benchmark wrote nothing")
    for r in md:
        if r.get("error"):
            warnings.append(f"MD {r['file']}: {r['system']} {r['model']} {r['cutoff_A']} Å graphs "
                            f"{r['cuda_graphs']} stopped: {r['error']}")
    scans = scaling(folder)
    if not scans:
        problems.append("no model_scaling_*.json: the scaling benchmark wrote nothing")
    for scan in scans:
        if "cuda_graph_error" in scan:
            problems.append(f"CUDA-graph capture of the exported module failed: {scan['cuda_graph_error']}")
    return clean({"mode": mode, "folder": str(folder), "env": env, "steps": steps, "tests": tests,
                  "targets": md_targets(md), "model_scaling": scans, "md_rows": len(md),
                  "warnings": warnings, "problems": problems, "ok": not problems})


def markdown(s: Dict) -> str:
    env = s["env"]
    lines = [f"# Device check ({s['mode']})", "",
             f"Machine: {env.get('gpu') or 'no GPU'}; python {env.get('python', '?')}, torch {env.get('torch', '?')}, "
             f"openmm {env.get('openmm', '?')} (platforms: {', '.join(env.get('platforms', [])) or '?'}), "
             f"openmmml {env.get('openmmml', '?')}; started {env.get('started', '?')}.", "",
             f"**{'OK' if s['ok'] else 'PROBLEMS'}** (targets are measurements: a missed target is not a failure "
             "of the check; on a non-CUDA platform they read n/a).", "",
             "| step | status | seconds | limit (s) | note |", "|---|---|---|---|---|"]
    lines += [f"| {x['name']} | {x['status']} | {x['seconds']:.0f} | {fmt(x['limit_s'] or None, 4)} | {x['note']} |"
              for x in s["steps"]]
    t = s["tests"]
    if t:
        lines += ["", f"CUDA tests ({t['file']}): {t['tests']} collected, {t['passed']} passed, {t['failed']} failed, "
                      f"{t['errors']} errors, {t['skipped']} skipped.", ""]
        lines += [f"* {c['test']}: {c['outcome']}{' (' + c['reason'] + ')' if c['reason'] else ''}" for c in t["cases"]]
    lines += ["", f"## DHA, range-schnet 5 Å, width 64, 2 fs (target >= {DHA_TARGET_NS_PER_DAY:g} ns/day)", "",
              "| platform | backend | CUDA graphs | ns/day | target |", "|---|---|---|---|---|"]
    lines += [f"| {d['platform']} | {d['backend']} | {d['cuda_graphs']} | {fmt(d['ns_per_day'], 4)} | {fmt(d['met'])} |"
              for d in s["targets"]["dha_range_schnet_w64"]]
    lines += ["", f"## MD step time, range-schnet / schnet at 5 Å and equal width (target <= {STEP_RATIO_TARGET:g})", "",
              "| platform | system | width | CUDA graphs | range ms | schnet ms | ratio | target |",
              "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['platform']} | {r['system']} | {r['width']} | {r['cuda_graphs']} | {fmt(r['range_ms'])} | "
              f"{fmt(r['schnet_ms'])} | {fmt(r['ratio'])} | {fmt(r['met'])} |"
              for r in s["targets"]["range_over_schnet_per_step"]]
    lines += ["", f"## Model scaling (goal: {SCALING_GOAL_ATOMS:,} atoms)", ""]
    for scan in s["model_scaling"]:
        lines.append(f"* {scan['file']}: sizes {scan.get('sizes_done')}, largest N {scan.get('largest_n')} "
                     f"(goal {fmt(scan.get('goal_met'))}), max range/schnet ratio for N >= 500 "
                     f"{fmt(scan.get('max_ratio_n_ge_500'))}, slope 2k-20k {fmt(scan.get('range_slope_2k_20k'))}"
                     + (f", out of memory at N={scan['oom_at_n']}" if scan.get("oom_at_n") else "")
                     + (f", skipped {scan['skipped_sizes']}" if scan.get("skipped_sizes") else "")
                     + (f", CUDA-graph replay vs eager: energy {fmt(scan['cuda_graph_energy_diff'])}, "
                        f"force {fmt(scan['cuda_graph_force_diff'])}" if "cuda_graph_force_diff" in scan else ""))
    for title, items in (("Problems", s["problems"]), ("Warnings", s["warnings"])):
        if items:
            lines += ["", f"## {title}", ""] + [f"* {item}" for item in items]
    return "\n".join(lines) + "\n"


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="the results folder of scripts/device_check.sh")
    parser.add_argument("--mode", choices=["gpu", "dry-run"], required=True)
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        parser.error(f"folder {args.folder} does not exist")
    summary = summarize(args.folder, args.mode)
    write_atomic(args.folder / "summary.json", json.dumps(summary, indent=2) + "\n")
    text = markdown(summary)
    write_atomic(args.folder / "summary.md", text)
    print(text)
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
