"""Long-range interaction energies of dimers: can a model see a partner beyond its cutoff?

For every dimer of the shipped models' held-out test split (the split of
``configs/range-schnet.yaml``; all shipped configs use the same data, subsample and seed),
the interaction energy ``E_int = E(AB) - E(A) - E(B)`` is computed

* as reference: ``E(AB)`` is the dataset's GFN2-xTB label, ``E(A)`` and ``E(B)`` are new
  tblite single points of the two monomers at their geometry in the dimer, with the
  dataset's label settings and the monomers' formal charges (cached in
  ``--cache``, so reruns are instant);
* by each shipped model that is installed, the same difference of three model energies.

A 5 Å SchNet or PaiNN predicts exactly ``E_int = 0`` once the closest-atom gap exceeds its
cutoff: its error there is the whole interaction. Models see the two monomers as two
molecules (and their formal charges, where the model takes charges).

When the config holds pair types out of training (``held_out_molecules``), every number is
also given for the held-out pairs and for the seen ones apart, and the bar is the long-range
issue's: on the held-out pairs, the RANGE model's E_int MAE beyond the cutoff is at most
0.5x its local baseline's. Writes ``benchmarks/results/dimer_longrange.{json,md}``.

    .venv/bin/python benchmarks/dimer_longrange.py                      # the shipped models
    .venv/bin/python benchmarks/dimer_longrange.py --config configs/study/longrange/range-schnet.yaml \
        --model-files range-schnet=runs/study/longrange/range-schnet/best_model.pt \
                      schnet=runs/study/longrange/schnet/best_model.pt --out benchmarks/results/dimer_heldout
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import openmm_range  # noqa: E402
from openmm_range.data.generate.molecules import min_distance  # noqa: E402
from openmm_range.data.generate.potentials import XTBPotential  # noqa: E402
from openmm_range.openmm.model_files import shipped_model_path  # noqa: E402
from openmm_range.serialization import atomic_write  # noqa: E402
from openmm_range.training import TrainConfig  # noqa: E402
from openmm_range.training.trainer import load_data  # noqa: E402

MODELS = ("range-schnet", "schnet", "schnet-long", "range-painn", "painn")
PAIRS = (("range-schnet", "schnet"), ("range-painn", "painn"))
HELD_OUT_BAR = 0.5  # held-out pairs: RANGE E_int MAE beyond the cutoff <= 0.5 x the baseline's
GAP_BINS = ((0.0, 5.0), (5.0, 10.0), (10.0, 15.0), (15.0, 100.0))


def test_dimers(config_path: str, dimer_path: str):
    """(z, pos, E_AB, n_A, charge_A, charge_B) of each test-split structure from ``dimer_path``."""
    config = TrainConfig.from_yaml(config_path)
    full, (_, _, test), spans = load_data(config)
    span = [(lo, hi) for path, lo, hi in spans if Path(path).resolve() == Path(dimer_path).resolve()]
    if not span:
        raise ValueError(f"{config_path}: its data {config.data} do not include {dimer_path}")
    lo, hi = span[0]
    frames = full.frames
    molecules = {m["name"]: m for m in frames.metadata.get("molecules", [])}
    if not molecules:  # concatenated frames keep no per-dataset metadata: read the dimer set's own
        molecules = {m["name"]: m for m in json.loads((Path(dimer_path) / "meta.json").read_text())["molecules"]}
    out = []
    offsets = frames.offsets
    for i in test.parent_indices:
        if not lo <= i < hi:
            continue
        info = molecules[frames.molecules[frames.mol_id[i]]]
        if len(info.get("fragments", [])) != 2:  # a monomer alone: no interaction to measure
            continue
        a, b = offsets[i], offsets[i + 1]
        out.append({"index": int(i), "name": info["name"], "z": frames.z[a:b], "pos": frames.pos[a:b].astype(np.float64),
                    "energy": float(frames.energy[i]), "n_a": int(info["fragments"][0]),
                    "charges": [int(c) for c in info["fragment_charges"]]})
    return out, config


def reference_monomers(dimers, label, cache_path: Path, data_hash: str):
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    key_settings = json.dumps({**label, "data": data_hash}, sort_keys=True)  # indices refer to one dataset
    if cache.get("label") != key_settings:
        cache = {"label": key_settings, "energies": {}}
    for k, d in enumerate(dimers):
        key = str(d["index"])
        if key in cache["energies"]:
            continue
        energies = []
        for part, charge in ((slice(0, d["n_a"]), d["charges"][0]), (slice(d["n_a"], None), d["charges"][1])):
            xtb = XTBPotential(d["z"][part], charge=charge, method=label.get("method", "GFN2-xTB"),
                               accuracy=label.get("accuracy", 0.01),
                               electronic_temperature=label.get("electronic_temperature_K", 300.0),
                               max_iter=label.get("max_iter", 250), reuse_wavefunction=False)
            energies.append(xtb(d["pos"][part])[0])
        cache["energies"][key] = energies
        if k % 20 == 19:
            atomic_write(cache_path, lambda tmp: Path(tmp).write_text(json.dumps(cache)))
    atomic_write(cache_path, lambda tmp: Path(tmp).write_text(json.dumps(cache)))
    return [cache["energies"][str(d["index"])] for d in dimers]


def model_interaction(model, dimers):
    """E(AB) - E(A) - E(B) in eV for each dimer (float64); AB is passed as two molecules, with
    their formal charges when the model was trained with charges (older files ignore them)."""
    out = []
    with torch.no_grad():
        for d in dimers:
            z = torch.as_tensor(d["z"], dtype=torch.long)
            pos = torch.as_tensor(d["pos"], dtype=torch.float64)
            n = d["n_a"]
            mol = torch.cat([torch.zeros(n, dtype=torch.long), torch.ones(len(z) - n, dtype=torch.long)])
            q = d["charges"] if model.config.charges is not None else None
            e_ab = model(z, pos, molecules=mol, charges=None if q is None else torch.tensor(q))
            e_a = model(z[:n], pos[:n], charges=None if q is None else torch.tensor(q[:1]))
            e_b = model(z[n:], pos[n:], charges=None if q is None else torch.tensor(q[1:]))
            out.append(float(e_ab - e_a - e_b))
    return np.array(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default=str(HERE.parent / "configs" / "range-schnet.yaml"))
    p.add_argument("--dimers", default="data/dimers-xtb")
    p.add_argument("--models", nargs="*", default=list(MODELS))
    p.add_argument("--model-files", nargs="*", default=[], metavar="NAME=PATH",
                   help="evaluate these files (e.g. a study's best_model.pt) instead of the shipped models")
    p.add_argument("--cache", default=str(HERE / "results" / "dimer_longrange_monomers.json"))
    p.add_argument("--out", default=str(HERE / "results" / "dimer_longrange"))
    args = p.parse_args()
    torch.set_num_threads(1)
    from systems import in_repo

    dimers, config = test_dimers(args.config, in_repo(args.dimers))
    meta = json.loads((Path(in_repo(args.dimers)) / "meta.json").read_text())
    monomers = reference_monomers(dimers, meta["label"], Path(args.cache), meta["content_hash"])
    ref = np.array([d["energy"] - ea - eb for d, (ea, eb) in zip(dimers, monomers)])
    gaps = np.array([min_distance(d["pos"][:d["n_a"]], d["pos"][d["n_a"]:]) for d in dimers])
    held = np.array([d["name"] in set(config.held_out_molecules) for d in dimers])
    subsets = {"all": np.ones(len(dimers), dtype=bool)}
    if held.any():
        subsets.update({"held-out pairs": held, "seen pairs": ~held})
    results = {"test_dimers": len(dimers), "config": args.config, "held_out_molecules": config.held_out_molecules,
               "models": {}, "bars": []}
    table = ["| model | cutoff (Å) | " + " | ".join(f"gap {lo:g}-{hi:g} Å" if hi < 100 else f"gap > {lo:g} Å"
                                                  for lo, hi in GAP_BINS) + " | beyond cutoff |",
             "|---|---|" + "---|" * (len(GAP_BINS) + 1)]
    counts = [int(((gaps > lo) & (gaps <= hi)).sum()) for lo, hi in GAP_BINS]
    table.insert(2, "| reference mean abs E_int (meV) | | " + " | ".join(
        f"{1e3 * np.abs(ref[(gaps > lo) & (gaps <= hi)]).mean():.1f} (n={c})" if c else "-"
        for (lo, hi), c in zip(GAP_BINS, counts)) + " | |")
    files = dict(item.split("=", 1) for item in args.model_files) if args.model_files else \
        {name: shipped_model_path(name) for name in args.models}
    for name, path in files.items():
        path = Path(path)
        if not path.is_file():
            print(f"{name}: {path} not found, skipped")
            continue
        model = openmm_range.load_model(path).double().eval()
        cutoff = float(model.config.cutoff)
        err = model_interaction(model, dimers) - ref
        row = {"cutoff": cutoff, "model_file": str(path)}
        for subset, sel in subsets.items():
            beyond = sel & (gaps > cutoff)
            row[subset] = {"mae_beyond_cutoff_mev": 1e3 * float(np.abs(err[beyond]).mean()) if beyond.any() else None,
                           "n_beyond_cutoff": int(beyond.sum()),
                           "mae_by_gap_mev": {f"{lo:g}-{hi:g}": 1e3 * float(np.abs(err[sel & (gaps > lo) & (gaps <= hi)]).mean())
                                              for lo, hi in GAP_BINS if (sel & (gaps > lo) & (gaps <= hi)).any()}}
        results["models"][name] = row
        for subset in subsets:
            cells = [f"{row[subset]['mae_by_gap_mev'].get(f'{lo:g}-{hi:g}', float('nan')):.1f}" for lo, hi in GAP_BINS]
            beyond_mae = row[subset]["mae_beyond_cutoff_mev"]
            last = f"{beyond_mae:.1f}" if beyond_mae is not None else "-"
            table.append(f"| {name} ({subset}) | {cutoff:g} | " + " | ".join(cells) + f" | {last} |")
    for ranged, base in PAIRS:
        if ranged in results["models"] and base in results["models"]:
            cut = results["models"][ranged]["cutoff"]  # the baselines here share it
            for subset in subsets:
                r = results["models"][ranged][subset]["mae_beyond_cutoff_mev"]
                b = results["models"][base][subset]["mae_beyond_cutoff_mev"]
                if r is None or b is None:
                    continue
                factor = HELD_OUT_BAR if subset == "held-out pairs" else 1.0
                results["bars"].append({"bar": f"{ranged} E_int MAE beyond {cut:g} Å <= {factor:g} x {base} "
                                               f"({subset})", "range_mev": r, "baseline_mev": b, "ratio": r / b,
                                        "n": results["models"][ranged][subset]["n_beyond_cutoff"],
                                        "met": r <= factor * b})
    lines = ["# Dimer interaction energies on the held-out test split", "",
             f"{len(dimers)} test dimers of `{args.dimers}` (split of `{Path(args.config).name}`). "
             "E_int = E(AB) - E(A) - E(B); reference GFN2-xTB (monomers computed here with the dataset's "
             "label settings). MAE of E_int in meV by closest-atom gap:", ""] + table
    if results["bars"]:
        lines += ["", "| bar | RANGE (meV) | baseline (meV) | ratio | dimers | met |", "|---|---|---|---|---|---|"]
        lines += [f"| {b['bar']} | {b['range_mev']:.1f} | {b['baseline_mev']:.1f} | {b['ratio']:.2f} | {b['n']} | "
                  f"{'yes' if b['met'] else 'NO'} |" for b in results["bars"]]
    if held.any():
        lines += ["", "Held-out pair types (never in training; both monomers of each are seen in other pairs): "
                  + ", ".join(f"`{m}`" for m in config.held_out_molecules) + "."]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out.with_suffix(".json"), lambda tmp: Path(tmp).write_text(json.dumps(results, indent=2) + "\n"))
    atomic_write(out.with_suffix(".md"), lambda tmp: Path(tmp).write_text("\n".join(lines) + "\n"))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
