"""Do the models hold DHA's X-H bonds? Dissociation curves against GFN2-xTB.

Every hydrogen of the bundled DHA structure in turn is pulled away from its bonded heavy atom
along the bond, from the equilibrium length r0 to 10 Å, all other atoms fixed. GFN2-xTB
(tblite, the training reference, closed shell as in the training data) and every model give
E(r) - E(r0) in eV. A model that is right near r0 but flat further out lets an H atom leave
for free once thermal motion stretches its bond far enough: the bond breaks seen in
`benchmarks/dha_stability.py` runs (C-H and the carboxylic O-H).

Per model: the dissociation energy D = E(6 Å) - E(r0) over the 32 X-H bonds (median, min),
the highest point of the curve (its barrier) and how many bonds have D < 1 eV (GFN2-xTB: ~5 eV
for every bond). Writes ``benchmarks/results/bond_dissociation.{md,json,png}``.

    .venv/bin/python benchmarks/bond_dissociation.py [--models range-schnet schnet ...]
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from openmm_range.files import atomic_write, write_text_atomic  # noqa: E402
OUT = ROOT / "benchmarks" / "results"
#: bond lengths of the scan, as multiples of r0 up to 2x, then Å
STRETCH = (1.0, 1.1, 1.2, 1.35, 1.5, 1.75, 2.0)
FAR = (3.0, 4.0, 6.0, 10.0)
D_AT = 6.0  # Å: where the dissociation energy is read
DEFAULT_MODELS = ("range-schnet", "runs/stability/range-schnet-stretch/best_model.pt", "schnet", "schnet-long",
                  "range-painn", "painn", "serialized_models/study/dha-range-schnet-5.pt",
                  "serialized_models/study/dha-schnet-5.pt")


def dha_structure():
    """(mdtraj topology, atomic numbers (N,), positions (N, 3) Å) of the bundled DHA structure."""
    import mdtraj

    from openmm_range.structures import dha_pdb_path

    traj = mdtraj.load(str(dha_pdb_path()))
    z = np.array([a.element.atomic_number for a in traj.topology.atoms])
    return traj.topology, z, traj.xyz[0].astype(np.float64) * 10.0


def xh_bonds(topology):
    """(heavy atom, hydrogen) index pairs of the topology's bonds."""
    pairs = []
    for a, b in topology.bonds:
        if a.element.symbol == "H" and b.element.symbol != "H":
            a, b = b, a
        if b.element.symbol == "H" and a.element.symbol != "H":
            pairs.append((a.index, b.index))
    return pairs


def scan_positions(pos: np.ndarray, heavy: int, hydrogen: int):
    """(distances Å, list of (N, 3) positions): the H moved along the bond, everything else fixed."""
    bond = pos[hydrogen] - pos[heavy]
    r0 = float(np.linalg.norm(bond))
    unit = bond / r0
    radii = [r0 * s for s in STRETCH] + list(FAR)
    frames = []
    for r in radii:
        p = pos.copy()
        p[hydrogen] = pos[heavy] + r * unit
        frames.append(p)
    return np.array(radii), frames


def label(spec: str) -> str:
    """A short name: the potential name, or the file's stem (its run directory for a best_model.pt)."""
    path = Path(spec)
    if spec.endswith(".pt"):
        return path.parent.name if path.stem == "best_model" else path.stem
    return spec


def load(spec: str):
    """A model by potential name (shipped file) or by path."""
    import openmm_range
    from openmm_range.openmm.model_files import resolve_model_file

    from systems import in_repo

    path = in_repo(spec) if spec.endswith(".pt") else resolve_model_file(spec, None)
    return openmm_range.load_model(path).double()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS))
    p.add_argument("--out", default=str(OUT / "bond_dissociation"))
    args = p.parse_args()
    import torch

    from openmm_range.data.generate.potentials import XTBPotential

    torch.set_num_threads(1)
    top, z, pos = dha_structure()
    bonds = xh_bonds(top)
    xtb = XTBPotential(z, accuracy=0.01, reuse_wavefunction=False)
    models = {label(spec): load(spec) for spec in args.models}
    curves = {"GFN2-xTB": []}
    curves.update({spec: [] for spec in models})
    labels, radii_all = [], []
    zt = torch.as_tensor(z)
    for heavy, hydrogen in bonds:
        radii, frames = scan_positions(pos, heavy, hydrogen)
        radii_all.append(radii.tolist())
        labels.append(f"{top.atom(heavy).name}-{top.atom(hydrogen).name}")
        ref = np.array([xtb(f)[0] for f in frames])
        curves["GFN2-xTB"].append((ref - ref[0]).tolist())
        for spec, model in models.items():
            with torch.no_grad():
                e = np.array([float(model(zt, torch.as_tensor(f)).sum()) for f in frames])
            curves[spec].append((e - e[0]).tolist())
    at = FAR.index(D_AT) + len(STRETCH)
    summary = {}
    for name, c in curves.items():
        c = np.array(c)  # (bonds, points)
        d = c[:, at]
        summary[name] = {"D_median_ev": float(np.median(d)), "D_min_ev": float(d.min()),
                         "barrier_median_ev": float(np.median(c.max(axis=1))), "bonds_D_below_1ev": int((d < 1.0).sum()),
                         "weakest_bond": labels[int(d.argmin())]}
    report = {"structure": "DHA (openmm_range/resources/dha.pdb), other atoms fixed", "bonds": labels,
              "radii_angstrom": radii_all, "D_at_angstrom": D_AT, "energies_ev": curves, "summary": summary}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out.with_suffix(".json"), json.dumps(report, indent=1) + "\n")
    lines = ["# DHA X-H bond dissociation: models against GFN2-xTB", "",
             f"Each of DHA's {len(bonds)} X-H bonds is stretched from r0 to 10 Å (H moved along the bond, other atoms "
             f"fixed). D = E({D_AT:g} Å) - E(r0), eV; barrier = the curve's highest point. GFN2-xTB is closed-shell, "
             "as in the training data; a closed-shell calculation overestimates a homolytic D (experimental "
             "C-H bond energies are about 4.3-4.8 eV), so the reference is the training method's, not nature's.", "",
             "| model | D median (eV) | D min (eV) | weakest bond | barrier median (eV) | bonds with D < 1 eV |",
             "|---|---|---|---|---|---|"]
    for name, s in summary.items():
        lines.append(f"| {name} | {s['D_median_ev']:.2f} | {s['D_min_ev']:.2f} | {s['weakest_bond']} | "
                     f"{s['barrier_median_ev']:.2f} | {s['bonds_D_below_1ev']}/{len(bonds)} |")
    write_text_atomic(out.with_suffix(".md"), "\n".join(lines) + "\n")
    _plot(out.with_suffix(".png"), labels, radii_all, curves)
    print("\n".join(lines))
    return 0


def _plot(path: Path, labels, radii, curves) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    show = [k for k, lab in enumerate(labels) if lab.startswith("O")][:1] + \
           [k for k, lab in enumerate(labels) if lab.startswith("C")][:2]
    fig, axes = plt.subplots(1, len(show), figsize=(5 * len(show), 4), squeeze=False)
    for ax, k in zip(axes[0], show):
        for name, c in curves.items():
            style = {"color": "black", "lw": 2.5} if name == "GFN2-xTB" else {"lw": 1.2}
            ax.plot(radii[k], c[k], marker="o", ms=3, label=name, **style)
        ax.set_title(f"DHA {labels[k]}")
        ax.set_xlabel("bond length (Å)")
        ax.set_ylabel("E(r) - E(r0) (eV)")
        ax.axhline(0, color="grey", lw=0.5)
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=120, format="png"))


if __name__ == "__main__":
    sys.exit(main())
