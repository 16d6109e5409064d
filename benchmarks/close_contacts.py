"""Do the models keep atoms apart? The repulsive side of DHA's potential against GFN2-xTB.

Two scans of the bundled DHA structure, every other atom fixed:

* **compressed X-H bonds**: each of the 32 hydrogens moved along its bond to
  ``COMPRESS`` x its equilibrium length r0 (0.9 down to 0.5);
* **close contacts**: hydrogens moved straight at a non-bonded atom 2.2-3.0 Å away (``--contacts``
  pairs, drawn with a fixed seed), to ``CONTACT`` Å from it (2.0 down to 0.7).

GFN2-xTB (tblite, the training reference) and every model give E - E(start) in eV. Thermal MD
at 300 K stays below about 0.5 eV on either scan; a step that overshoots (2 fs with free X-H
bonds: docs/reproduction.md, "Dynamics") can reach further. A model whose energy stops rising,
or falls, as atoms approach (a "hole") lets them fall together. Reported per model: the median
energy at the innermost point of each scan against GFN2-xTB's, and the number of scans where
the energy falls by more than 0.1 eV between consecutive points inward (GFN2-xTB: none).
Writes ``benchmarks/results/close_contacts.{md,json}``.

    .venv/bin/python benchmarks/close_contacts.py [--models range-schnet schnet ...] [--contacts 24]
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from bond_dissociation import dha_structure, label, load, xh_bonds  # noqa: E402
from openmm_range.files import write_text_atomic  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "close_contacts"
COMPRESS = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)  # x r0
CONTACT = (2.0, 1.6, 1.3, 1.1, 0.9, 0.7)  # Å from the approached atom
HOLE_EV = 0.1  # an energy drop inward larger than this counts as a hole
DEFAULT_MODELS = ("range-schnet", "runs/stability/range-schnet-contact/best_model.pt", "schnet", "schnet-long",
                  "range-painn", "painn",
                  "serialized_models/study/dha-range-schnet-5-e100.pt")


def compression_scans(pos, bonds):
    """{name: list of (N, 3) frames} for each X-H bond compressed to COMPRESS x r0."""
    scans = {}
    for heavy, hydrogen, name in bonds:
        bond = pos[hydrogen] - pos[heavy]
        frames = []
        for s in COMPRESS:
            p = pos.copy()
            p[hydrogen] = pos[heavy] + s * bond
            frames.append(p)
        scans[name] = frames
    return scans


def contact_scans(pos, top, count: int, seed: int = 0):
    """{name: frames}: ``count`` hydrogens each moved straight at a non-bonded atom 2.2-3.0 Å away."""
    atoms = list(top.atoms)
    bonded = {(a.index, b.index) for a, b in top.bonds} | {(b.index, a.index) for a, b in top.bonds}
    dist = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    candidates = [(h.index, j) for h in atoms if h.element.symbol == "H" for j in range(len(atoms))
                  if j != h.index and (h.index, j) not in bonded and 2.2 < dist[h.index, j] < 3.0]
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(candidates), size=min(count, len(candidates)), replace=False)
    scans = {}
    for k in sorted(int(c) for c in chosen):
        h, j = candidates[k]
        unit = (pos[h] - pos[j]) / dist[h, j]
        frames = []
        start = pos.copy()
        frames.append(start)
        for r in CONTACT:
            p = pos.copy()
            p[h] = pos[j] + unit * r
            frames.append(p)
        scans[f"{atoms[h].name}->{atoms[j].name}"] = frames
    return scans


def holes(curve) -> int:
    """1 if the energy ever falls by more than HOLE_EV from one point to the next inward, else 0."""
    return int((np.diff(np.asarray(curve)) < -HOLE_EV).any())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS))
    p.add_argument("--contacts", type=int, default=24, help="close-contact scans (default 24)")
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args()
    import torch

    from openmm_range.data.generate.potentials import XTBPotential

    torch.set_num_threads(1)
    top, z, pos = dha_structure()
    bonds = [(a, b, f"{top.atom(a).name}-{top.atom(b).name}") for a, b in xh_bonds(top)]
    scans = {"compression": compression_scans(pos, bonds), "contact": contact_scans(pos, top, args.contacts)}
    xtb = XTBPotential(z, accuracy=0.01, reuse_wavefunction=False)
    models = {label(spec): load(spec) for spec in args.models}
    zt = torch.as_tensor(z)
    curves = {kind: {"GFN2-xTB": {}, **{m: {} for m in models}} for kind in scans}
    for kind, named in scans.items():
        for name, frames in named.items():
            ref = np.array([xtb(f)[0] for f in frames])
            curves[kind]["GFN2-xTB"][name] = (ref - ref[0]).tolist()
            for m, model in models.items():
                with torch.no_grad():
                    e = np.array([float(model(zt, torch.as_tensor(f)).sum()) for f in frames])
                curves[kind][m][name] = (e - e[0]).tolist()
    summary = {}
    for kind in scans:
        for m, by_scan in curves[kind].items():
            last = np.array([c[-1] for c in by_scan.values()])
            summary.setdefault(m, {})[kind] = {"innermost_median_ev": float(np.median(last)),
                                               "innermost_min_ev": float(last.min()),
                                               "scans_with_hole": sum(holes(c) for c in by_scan.values()),
                                               "scans": len(by_scan)}
    report = {"structure": "DHA (openmm_range/resources/dha.pdb), other atoms fixed", "compress_factors": COMPRESS,
              "contact_distances_angstrom": CONTACT, "hole_ev": HOLE_EV, "curves_ev": curves, "summary": summary}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out.with_suffix(".json"), json.dumps(report, indent=1) + "\n")
    n_bonds, n_contacts = len(scans["compression"]), len(scans["contact"])
    lines = ["# DHA close contacts: the repulsive side, models against GFN2-xTB", "",
             f"Compression: each of the {n_bonds} X-H bonds shortened to {COMPRESS[-1]:g} r0 (H moved, other atoms "
             f"fixed). Contact: {n_contacts} hydrogens moved straight at a non-bonded atom 2.2-3.0 Å away, to "
             f"{CONTACT[-1]:g} Å from it. Energies E - E(start) in eV at the innermost point; a hole is a fall of more "
             f"than {HOLE_EV:g} eV between consecutive points inward.", "",
             "| model | compressed to 0.5 r0: median (min) eV | holes | contact at 0.7 Å: median (min) eV | holes |",
             "|---|---|---|---|---|"]
    for m, s in summary.items():
        c, t = s["compression"], s["contact"]
        lines.append(f"| {m} | {c['innermost_median_ev']:.2f} ({c['innermost_min_ev']:.2f}) | "
                     f"{c['scans_with_hole']}/{c['scans']} | {t['innermost_median_ev']:.2f} ({t['innermost_min_ev']:.2f}) | "
                     f"{t['scans_with_hole']}/{t['scans']} |")
    write_text_atomic(out.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
