"""Choose ``schnet-long``: the SchNet cutoff among 7, 9 and 12 Å with the lowest validation force MAE.

Reads ``runs/shipped/schnet-long-<C>/summary.json`` of the finished candidate runs, writes
``runs/shipped/schnet-long-selection.md`` (a table for the model card) and prints the winner's run
directory. Exits with status 1 while any candidate is unfinished, unless ``--allow-missing``
is given: then the choice is made among the finished ones and the table names the others.
"""
import json
import os
import sys
from pathlib import Path

from openmm_range.serialization import atomic_write
from openmm_range.training.campaign import read_campaign

ROOT = Path(__file__).resolve().parent.parent
CUTOFFS = (7, 9, 12)
CAMPAIGN = Path("configs") / "campaigns" / "shipped.yaml"


def run_dir(root: Path, cutoff: int) -> Path:
    return root / "runs" / "shipped" / f"schnet-long-{cutoff}"


def main(argv=None, root: Path = ROOT) -> int:
    allow_missing = "--allow-missing" in (sys.argv[1:] if argv is None else argv)
    rows, missing = {}, []
    for c in CUTOFFS:
        path = run_dir(root, c) / "summary.json"
        if not path.exists():
            print(f"candidate {c} Å has not finished ({path} missing)", file=sys.stderr)
            missing.append(c)
            continue
        rows[c] = json.loads(path.read_text())["best_val_force_mae_mev_a"]
    if not rows or (missing and not allow_missing):
        return 1
    best = min(rows, key=rows.get)
    candidates = ", ".join(f"{c} Å" for c in CUTOFFS)
    if len(rows) == 1:
        choice = f"`schnet-long` is the {best} Å SchNet run, the only one finished of the candidate cutoffs {candidates}"
    else:
        choice = (f"`schnet-long` is the SchNet run with the lowest validation force MAE among the finished "
                  f"candidate cutoffs ({', '.join(f'{c} Å' for c in rows)} of {candidates}): **{best} Å**")
    lines = ["## Cutoff selection", "",
             f"{choice} (same data, width and schedule as the other shipped SchNet models).", "",
             "| cutoff (Å) | best validation force MAE (meV/Å) |", "|---|---|"]
    lines += [f"| {c} | {v:.2f}{' (chosen)' if c == best else ''} |" for c, v in rows.items()]
    here = os.getcwd()
    os.chdir(root)  # the campaign names its configs relative to the repository root
    try:  # (not contextlib.chdir: Python 3.11+, and setup.py accepts 3.10)
        in_campaign = {p.resolve() for p in read_campaign(str(CAMPAIGN))}
    finally:
        os.chdir(here)
    for c in missing:
        config = Path("configs") / f"schnet-long-{c}.yaml"
        state = ("in the campaign, not finished" if (root / config).resolve() in in_campaign
                 else f"not trained (not in {CAMPAIGN})")
        lines.append(f"| {c} | {state}: `{config}`; not compared |")
    text = "\n".join(lines) + "\n"
    atomic_write(root / "runs" / "shipped" / "schnet-long-selection.md", lambda tmp: Path(tmp).write_text(text))
    print(run_dir(root, best))
    return 0


if __name__ == "__main__":
    sys.exit(main())
