"""Where in the molecule the force errors sit (convergence issue, item 3).

For each finished run of a study set, the test split's per-atom force errors are binned by the
atom's distance (Å) to a chemical landmark of its molecule:

* ``pushpull``: the *farther* terminal group (NO2, CHO, CN, NH2, NMe2, OMe; for molecules with
  one group, that group). Atoms more than 15 Å from it cannot see it through a 3 x 5 Å network:
  if master nodes carry what the far end is, RANGE's advantage over SchNet 5 Å sits there.
* ``dha``: the carboxyl group, the only polar group of DHA.

It also gives the test force MAE ratio of RANGE / SchNet pairs (and of one model's two seeds)
with a 95 % interval from a paired bootstrap over the test structures (``paired_bootstrap``).

Writes ``benchmarks/results/reproduction/<set>_error_location.{md,json}``.

    .venv/bin/python benchmarks/error_location.py [dha pushpull]
"""
import json
import sys
from pathlib import Path
from typing import Dict, List

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "reproduction"
BINS = (0.0, 5.0, 10.0, 15.0, 20.0, 1e9)
CARBOXYL = {"COOH": "C(=O)[OX2H1]"}


def landmark_distances(frames, smiles: Dict[str, str], groups: Dict[str, str], farther: bool) -> np.ndarray:
    """Per atom of ``frames``: distance (Å) to the farther (or nearer) matched group of its molecule; NaN if none."""
    from openmm_range.data.longrange import terminal_groups

    matched = {name: terminal_groups(smi, groups) for name, smi in smiles.items()}
    sites = {name: found for name, (_, found) in matched.items()}
    for s in range(len(frames)):  # the data's atom order must be the generator's (RDKit's, from the SMILES)
        name = frames.molecules[frames.mol_id[s]]
        if name in matched:
            if frames.z[frames.offsets[s]:frames.offsets[s + 1]].tolist() != list(matched[name][0]):
                raise ValueError(f"structure {s} ({name}): its atoms are not in the order of its SMILES with "
                                 f"hydrogens, so the matched groups would name the wrong atoms")
    off = frames.offsets
    out = np.full(len(frames.z), np.nan)
    for s in range(len(frames)):
        found = sites.get(frames.molecules[frames.mol_id[s]], [])
        if not found:
            continue
        pos = frames.pos[off[s]:off[s + 1]]
        per_group = np.stack([np.linalg.norm(pos[:, None] - pos[atoms][None], axis=-1).min(axis=1)
                              for _, atoms, _, _ in found])
        out[off[s]:off[s + 1]] = per_group.max(axis=0) if farther else per_group.min(axis=0)
    return out


def analyse(study: str) -> List[Dict]:
    import openmm_range
    from openmm_range.data.longrange import PUSHPULL_END_GROUPS
    from openmm_range.training.config import TrainConfig
    from openmm_range.training.evaluate import errors
    from openmm_range.training.trainer import load_data

    rows = []
    distances, first_test = None, None
    for run in sorted((ROOT / "runs" / "study" / study).iterdir()):
        if not (run / "summary.json").exists():
            continue
        config = TrainConfig.from_dict({**json.loads((run / "config.json").read_text()), "dtype": "float64"})
        _, (_, _, test), _ = load_data(config)
        # one set of distances serves every run: their test splits must be the same structures
        if first_test is None:
            first_test = test.parent_indices.tolist()
        elif test.parent_indices.tolist() != first_test:
            raise ValueError(f"{run}: its test split differs from the study's other runs; the per-distance bins "
                             f"and the paired bootstrap need the same test structures")
        if distances is None:
            meta = json.loads((ROOT / config.data[0] / "meta.json").read_text())
            smiles = {m["name"]: m["smiles"] for m in meta["spec"]["molecules"]}
            groups, farther = (PUSHPULL_END_GROUPS, True) if study == "pushpull" else (CARBOXYL, False)
            distances = landmark_distances(test.frames, smiles, groups, farther)
        model = openmm_range.load_model(run / "best_model.pt").double()
        result = errors(model, test)
        err = np.linalg.norm(result["forces"], axis=1) * 1e3  # |ΔF_i|, meV/Å
        starts = np.concatenate([[0], np.cumsum(result["n_atoms"])[:-1]])
        per_structure = np.add.reduceat(np.abs(result["forces"]).sum(axis=1), starts) * 1e3  # Σ|ΔF_ia|, meV/Å
        per_bin = []
        for lo, hi in zip(BINS[:-1], BINS[1:]):
            sel = (distances >= lo) & (distances < hi)
            per_bin.append({"lo": lo, "hi": hi, "atoms": int(sel.sum()),
                            "mean_abs_force_error": float(err[sel].mean()) if sel.any() else None})
        rows.append({"run": run.name, "bins": per_bin, "all": float(err.mean()),
                     "per_structure_abs_force_error": per_structure.tolist()})
    return rows


#: (numerator, denominator) runs compared by a paired bootstrap: the RANGE / SchNet 5 Å pairs
#: trained alike, and the same model with another seed (how far seed noise alone moves the MAE).
PAIRS = (("range-schnet-5", "schnet-5"), ("range-schnet-5-e100", "schnet-5-e100"),
         ("range-schnet-5-seed1", "schnet-5-seed1"), ("schnet-5-seed1", "schnet-5"),
         ("range-schnet-5-seed1", "range-schnet-5"))


def paired_bootstrap(rows: List[Dict], draws: int = 2000, seed: int = 0) -> List[Dict]:
    """Test force MAE ratio of each pair in ``PAIRS`` with a 95 % interval from resampling the
    test structures (the same draw for both runs). It measures how much the ratio depends on
    which structures are in the test split, not the training seed's effect."""
    by = {r["run"]: np.asarray(r["per_structure_abs_force_error"]) for r in rows}
    rng = np.random.default_rng(seed)
    out = []
    for a, b in PAIRS:
        if a not in by or b not in by:
            continue
        idx = rng.integers(0, len(by[a]), size=(draws, len(by[a])))
        ratios = by[a][idx].sum(axis=1) / by[b][idx].sum(axis=1)
        out.append({"pair": f"{a} / {b}", "ratio": float(by[a].sum() / by[b].sum()),
                    "lo": float(np.percentile(ratios, 2.5)), "hi": float(np.percentile(ratios, 97.5))})
    return out


def table(study: str, rows: List[Dict], boot: List[Dict]) -> str:
    landmark = "the farther terminal group" if study == "pushpull" else "the carboxyl group"
    head = [f"{lo:g}-{hi:g} Å" if hi < 1e8 else f">= {lo:g} Å" for lo, hi in zip(BINS[:-1], BINS[1:])]
    lines = [f"# {study}: test force error by distance to {landmark}", "",
             "Mean |F_pred - F_ref| per atom (meV/Å; the norm of the error vector, not the component MAE), "
             "test split, best-validation weights.", "",
             "| run | " + " | ".join(head) + " | all |", "|---|" + "---|" * (len(head) + 1)]
    if rows:
        lines.append("| atoms | " + " | ".join(str(b["atoms"]) for b in rows[0]["bins"]) + " | |")
    for r in rows:
        lines.append(f"| {r['run']} | " + " | ".join("-" if b["mean_abs_force_error"] is None
                                                     else f"{b['mean_abs_force_error']:.1f}" for b in r["bins"])
                     + f" | {r['all']:.1f} |")
    by = {r["run"]: r for r in rows}
    for tag in ("", "-e100", "-seed1"):  # the RANGE / SchNet 5 Å pairs trained alike
        rng, base = by.get(f"range-schnet-5{tag}"), by.get(f"schnet-5{tag}")
        if rng is None or base is None:
            continue
        ratios = [(a["mean_abs_force_error"] / b["mean_abs_force_error"]) if a["mean_abs_force_error"] else None
                  for a, b in zip(rng["bins"], base["bins"])]
        lines.append(f"| range-schnet-5{tag} / schnet-5{tag} | " + " | ".join("-" if x is None else f"{x:.3f}" for x in ratios)
                     + f" | {rng['all'] / base['all']:.3f} |")
    if boot:
        lines += ["", "Test force MAE ratios (component MAE, as the study's tables) with a 95 % interval from a "
                  "paired bootstrap over the test structures (2,000 draws): the spread from which structures "
                  "are tested, not from the training seed; the seed-to-seed rows show that.", "",
                  "| pair | ratio | 95 % interval |", "|---|---|---|"]
        lines += [f"| {b['pair']} | {b['ratio']:.3f} | {b['lo']:.3f}-{b['hi']:.3f} |" for b in boot]
    return "\n".join(lines) + "\n"


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from openmm_range.serialization import atomic_write

    for study in sys.argv[1:] or ["dha", "pushpull"]:
        rows = analyse(study)
        if not rows:
            print(f"{study}: no finished run")
            continue
        boot = paired_bootstrap(rows)
        text = table(study, rows, boot)
        atomic_write(OUT / f"{study}_error_location.md", lambda tmp: Path(tmp).write_text(text))
        runs = [{k: v for k, v in r.items() if k != "per_structure_abs_force_error"} for r in rows]
        summary = {"runs": runs, "bootstrap": boot}
        atomic_write(OUT / f"{study}_error_location.json", lambda tmp: Path(tmp).write_text(json.dumps(summary, indent=1)))
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
