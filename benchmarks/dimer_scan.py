"""E_int(d) of a few dimers, rigidly pulled apart from a 4 Å to a 30 Å closest-atom gap:
GFN2-xTB against models, one panel per pair, held-out pair types marked.

Each pair's geometry is its first test-split structure (config ``--config``); monomer B is
moved along the line between the centres of geometry. Reference: tblite GFN2-xTB with the
dataset's label settings, E(AB) - E(A) - E(B). Writes ``OUT.csv`` and ``OUT.png``.

    .venv/bin/python benchmarks/dimer_scan.py --config configs/study/longrange/range-schnet.yaml \\
        --model-files range-schnet=runs/study/longrange/range-schnet/best_model.pt \\
                      schnet=runs/study/longrange/schnet/best_model.pt
"""
import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import openmm_range  # noqa: E402
from openmm_range.data.generate.molecules import min_distance  # noqa: E402
from openmm_range.data.generate.potentials import XTBPotential  # noqa: E402
from openmm_range.serialization import atomic_write  # noqa: E402
from openmm_range.units import EV_PER_KCAL_PER_MOL  # noqa: E402

from dimer_longrange import model_interaction, test_dimers  # noqa: E402

PAIRS = ("nma+water", "acetate+methanol", "methylammonium+guanidinium", "acetate+water", "benzene+benzene",
         "toluene+benzene")
GAPS = np.arange(4.0, 30.01, 1.0)


def scan_geometries(dimer, gaps):
    """Copies of ``dimer`` with monomer B translated so that the closest-atom gap takes each value."""
    pos, n = dimer["pos"], dimer["n_a"]
    u = pos[n:].mean(0) - pos[:n].mean(0)
    u /= np.linalg.norm(u)
    out = []
    for gap in gaps:
        shift = 0.0
        for _ in range(60):  # Newton-like: the gap grows about one-for-one with the shift
            moved = pos[n:] + shift * u
            shift += gap - min_distance(pos[:n], moved)
        out.append({**dimer, "pos": np.concatenate([pos[:n], pos[n:] + shift * u])})
    return out


def xtb_energy(z, pos, charge, label):
    xtb = XTBPotential(z, charge=charge, method=label.get("method", "GFN2-xTB"), accuracy=label.get("accuracy", 0.01),
                       electronic_temperature=label.get("electronic_temperature_K", 300.0),
                       max_iter=label.get("max_iter", 250), reuse_wavefunction=False)
    return xtb(pos)[0]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default=str(HERE.parent / "configs" / "study" / "longrange" / "range-schnet.yaml"))
    p.add_argument("--dimers", default="data/dimers-xtb")
    p.add_argument("--pairs", nargs="*", default=list(PAIRS))
    p.add_argument("--model-files", nargs="+", required=True, metavar="NAME=PATH")
    p.add_argument("--out", default=str(HERE / "results" / "dimer_scan"))
    args = p.parse_args()
    torch.set_num_threads(1)
    dimers, config = test_dimers(args.config, args.dimers)
    label = json.loads((Path(args.dimers) / "meta.json").read_text())["label"]
    models = {name: openmm_range.load_model(path).double().eval()
              for name, path in (item.split("=", 1) for item in args.model_files)}
    rows, curves = [], {}
    for pair in args.pairs:
        first = next((d for d in dimers if d["name"] == pair), None)
        if first is None:
            print(f"{pair}: no test structure, skipped")
            continue
        scan = scan_geometries(first, GAPS)
        n, (qa, qb) = first["n_a"], first["charges"]
        e_a = xtb_energy(first["z"][:n], first["pos"][:n], qa, label)
        e_b = xtb_energy(first["z"][n:], first["pos"][n:], qb, label)
        ref = np.array([xtb_energy(d["z"], d["pos"], qa + qb, label) - e_a - e_b for d in scan])
        predicted = {name: model_interaction(model, scan) for name, model in models.items()}
        curves[pair] = (ref, predicted, pair in set(config.held_out_molecules))
        for k, gap in enumerate(GAPS):
            rows.append({"pair": pair, "held_out": curves[pair][2], "gap_A": float(gap),
                         "gfn2_xtb_kcal": ref[k] / EV_PER_KCAL_PER_MOL,
                         **{f"{name}_kcal": predicted[name][k] / EV_PER_KCAL_PER_MOL for name in models}})
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)

    def write_csv(tmp):
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

    atomic_write(out.with_suffix(".csv"), write_csv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = 3
    fig, axes = plt.subplots((len(curves) + cols - 1) // cols, cols, figsize=(4.2 * cols, 3.3 * ((len(curves) + 2) // cols)),
                             squeeze=False)
    for ax, (pair, (ref, predicted, held)) in zip(axes.flat, curves.items()):
        ax.plot(GAPS, ref / EV_PER_KCAL_PER_MOL, "k-", lw=2, label="GFN2-xTB")
        for name, values in predicted.items():
            ax.plot(GAPS, values / EV_PER_KCAL_PER_MOL, "--", label=name)
        ax.axvline(5.0, color="grey", lw=0.5)
        ax.set_title(f"{pair}{' (held out)' if held else ''}", fontsize=10)
        ax.set_xlabel("closest-atom gap (Å)")
        ax.set_ylabel("E_int (kcal/mol)")
    for ax in list(axes.flat)[len(curves):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    fig.tight_layout()
    atomic_write(out.with_suffix(".png"), lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    print(f"wrote {out.with_suffix('.csv')} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
