"""Model-card note: the DHA stability runs (benchmarks/dha_stability.py) and NVE time-step runs
(benchmarks/nve_timestep.py) of a shipped model file.

Every ``benchmarks/results/dha_stability*/summary.json`` whose runs used this very file (its
SHA-256) is quoted; runs of earlier files of the same file name are listed by directory only,
since they say nothing about this model; runs of other files (fine-tunes, study models) are left out.
Rows of ``benchmarks/results/nve_timestep*.json`` are quoted when they record this file's SHA-256.

    .venv/bin/python scripts/stability_note.py serialized_models/range-schnet.pt
"""
import json
import sys
from pathlib import Path

from openmm_range.openmm.md_checkpoint import sha256

ROOT = Path(__file__).resolve().parents[1]


def main(model_file: str) -> int:
    sha = sha256(Path(model_file))
    current, earlier = [], []
    for summary in sorted((ROOT / "benchmarks" / "results").glob("dha_stability*/summary.json")):
        report = json.loads(summary.read_text())
        shas = {r["settings"]["model_file_sha256"] for r in report.get("results", [])}
        if shas == {sha}:
            current.append(summary.parent)
        elif shas and Path(report.get("model_file", "")).name == Path(model_file).name:
            earlier.append(summary.parent)  # an earlier file of this name (not a fine-tune or a study model)
    for folder in current:
        text = (folder / "summary.md").read_text().replace("\n# ", "\n## ")
        print(text.replace("# ", "## ", 1) if text.startswith("# ") else text)
        print(f"Runs and plot: {folder.relative_to(ROOT)}/.\n")
    if earlier:
        print("Earlier stability runs used other model files of this name: "
              + ", ".join(f"{f.relative_to(ROOT)}/" for f in earlier)
              + ("." if current else "; this model has not finished a stability run yet."))
        print()
    print_nve_rows(sha)
    return 0


def print_nve_rows(sha: str, results: Path = ROOT / "benchmarks" / "results") -> None:
    """The NVE rows (benchmarks/nve_timestep.py) in ``results`` of runs with the model file ``sha``, as one table."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from nve_timestep import TABLE_HEADER, table_row

    rows, sources = [], []
    for path in sorted(results.glob("nve_timestep*.json")):
        report = json.loads(path.read_text())
        if not isinstance(report, dict):  # nve_timestep_frequencies.json: frequencies, not runs
            continue
        mine = [r for r in report.get("results", []) if r.get("model_file_sha256") == sha]
        if mine:
            rows += [table_row(r) for r in mine]
            sources.append(f"`benchmarks/results/{path.stem}.md` ({report['ps']:g} ps, velocities at "
                           f"{report['temperature_k']:g} K)")
    if not rows:
        return
    print("## NVE energy conservation of DHA (`benchmarks/nve_timestep.py`)\n")
    print("VerletIntegrator from the model's minimum, CPU platform: " + "; ".join(sources) + ".\n")
    print("\n".join([*TABLE_HEADER, *rows]) + "\n")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
