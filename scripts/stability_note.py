"""Model-card note: the DHA stability runs (benchmarks/dha_stability.py) of a shipped model file.

Every ``benchmarks/results/dha_stability*/summary.json`` whose runs used this very file (its
SHA-256) is quoted; runs of earlier files of the same file name are listed by directory only,
since they say nothing about this model; runs of other files (fine-tunes, study models) are left out.

    .venv/bin/python scripts/stability_note.py serialized_models/range-schnet.pt
"""
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(model_file: str) -> int:
    sha = hashlib.sha256(Path(model_file).read_bytes()).hexdigest()
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
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
