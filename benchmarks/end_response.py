"""Does a model know what sits at the far end of a molecule? (convergence issue, item 3)

On pushpull-xtb's test structures, each terminal group in turn is replaced by H
(:func:`openmm_range.data.longrange.end_group_swaps`, as ``openmm-range data end-signal`` does).
GFN2-xTB says how every other atom's force changes: ΔF_ref. Each finished study run predicts the
same change: ΔF_model. Binned by the atom's distance to the removed group (Å):

* ``|ΔF_ref|``: the signal; ``|ΔF_model|``: the model's response;
* the residual ``|ΔF_model - ΔF_ref|``: equal to |ΔF_ref| for a model that predicts no change;
* ``captured`` = 1 - residual / |ΔF_ref| (means over the bin's atoms): 0 for no response, 1 for
  the exact change, negative for a wrong one.

A 3 x 5 Å SchNet's atomic energies see 15 Å, but a force sums the derivatives of every energy
within 15 Å of its atom, so it can respond up to 30 Å away (measured: little beyond 20 Å).
Beyond that a local model's residual is the signal and captured is 0 by construction; what
RANGE's master nodes carry from the far end shows as captured > 0 there.
Writes ``benchmarks/results/reproduction/pushpull_end_response.{md,json}``.

    .venv/bin/python benchmarks/end_response.py [--structures 48]
"""
import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "benchmarks" / "results" / "reproduction"
BINS = (0.0, 5.0, 10.0, 15.0, 20.0, 1e9)
DATA = "data/pushpull-xtb"


def _model_forces(model, z: np.ndarray, pos: np.ndarray) -> np.ndarray:
    import torch

    _, forces = model.energy_and_forces(torch.as_tensor(z, dtype=torch.long), torch.as_tensor(pos, dtype=torch.float64))
    return forces.detach().numpy()  # eV/Å


def responses(swaps: List[Dict], forces) -> List[np.ndarray]:
    """Per swap: ΔF (kept atoms, 3; eV/Å) predicted by ``forces(z, pos)``."""
    cache: Dict[int, np.ndarray] = {}
    out = []
    for w in swaps:
        if w["structure"] not in cache:
            cache[w["structure"]] = forces(w["z"], w["pos"])
        out.append(forces(w["z_new"], w["pos_new"])[:-1] - cache[w["structure"]][w["keep"]])
    return out


def binned(swaps: List[Dict], ref: List[np.ndarray], pred: List[np.ndarray]) -> List[Dict]:
    dist = np.concatenate([w["distance"] for w in swaps])
    ref_all, pred_all = np.concatenate(ref) * 1e3, np.concatenate(pred) * 1e3  # meV/Å
    rows = []
    for lo, hi in zip(BINS[:-1], BINS[1:]):
        sel = (dist >= lo) & (dist < hi)
        signal = np.linalg.norm(ref_all[sel], axis=1).mean()
        residual = np.linalg.norm(pred_all[sel] - ref_all[sel], axis=1).mean()
        rows.append({"lo": lo, "hi": hi, "atoms": int(sel.sum()), "signal": float(signal),
                     "response": float(np.linalg.norm(pred_all[sel], axis=1).mean()), "residual": float(residual),
                     "captured": float(1.0 - residual / signal)})
    return rows


def table(result: Dict) -> str:
    head = [f"{lo:g}-{hi:g} Å" if hi < 1e8 else f">= {lo:g} Å" for lo, hi in zip(BINS[:-1], BINS[1:])]
    lines = ["# pushpull: force response to replacing a terminal group by H", "",
             f"{result['swaps']} swaps on {len(result['structures'])} test structures of {DATA}; mean over the atoms "
             "of each bin of the distance to the removed group. meV/Å. captured = 1 - residual / signal.", "",
             "| quantity | " + " | ".join(head) + " |", "|---|" + "---|" * len(head),
             "| atoms | " + " | ".join(str(b["atoms"]) for b in result["reference"]) + " |",
             "| signal \\|ΔF_ref\\| (GFN2-xTB) | " + " | ".join(f"{b['signal']:.1f}" for b in result["reference"]) + " |"]
    for run, rows in result["runs"].items():
        lines.append(f"| {run}: response \\|ΔF_model\\| | " + " | ".join(f"{b['response']:.1f}" for b in rows) + " |")
        lines.append(f"| {run}: residual | " + " | ".join(f"{b['residual']:.1f}" for b in rows) + " |")
        lines.append(f"| {run}: captured | " + " | ".join(f"{b['captured']:.2f}" for b in rows) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    import openmm_range
    from openmm_range.data import read_frames
    from openmm_range.data.generate.potentials import XTBPotential
    from openmm_range.data.longrange import end_group_swaps
    from openmm_range.serialization import atomic_write

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--structures", type=int, default=48)
    args = parser.parse_args()
    frames = read_frames(str(ROOT / DATA))
    meta = json.loads((ROOT / DATA / "meta.json").read_text())
    smiles = {m["name"]: m["smiles"] for m in meta["spec"]["molecules"]}
    runs = [r for r in sorted((ROOT / "runs" / "study" / "pushpull").iterdir()) if (r / "summary.json").exists()]
    test = json.loads((runs[0] / "split.json").read_text())["test"]
    for r in runs[1:]:
        if json.loads((r / "split.json").read_text())["test"] != test:
            raise ValueError(f"{r} has another test split than {runs[0]}")
    chosen, swaps = end_group_swaps(frames, smiles, n_structures=args.structures, seed=0, structures=test)

    def xtb(z, pos):
        return XTBPotential(z, accuracy=0.01, reuse_wavefunction=False)(pos)[1]

    ref = responses(swaps, xtb)
    result = {"structures": chosen, "swaps": len(swaps), "reference": binned(swaps, ref, [0 * r for r in ref]),
              "runs": {}}
    for run in runs:
        model = openmm_range.load_model(run / "best_model.pt").double()
        result["runs"][run.name] = binned(swaps, ref, responses(swaps, lambda z, p: _model_forces(model, z, p)))
    text = table(result)
    OUT.mkdir(parents=True, exist_ok=True)
    atomic_write(OUT / "pushpull_end_response.md", lambda tmp: Path(tmp).write_text(text))
    atomic_write(OUT / "pushpull_end_response.json", lambda tmp: Path(tmp).write_text(json.dumps(result, indent=1)))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
