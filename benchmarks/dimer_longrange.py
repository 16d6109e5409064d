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
cutoff: its error there is the whole interaction. The issue's bar: beyond the cutoff the
RANGE model's interaction-energy error is smaller than its baseline's. Writes
``benchmarks/results/dimer_longrange.{json,md}``.

    .venv/bin/python benchmarks/dimer_longrange.py
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
        a, b = offsets[i], offsets[i + 1]
        out.append({"index": int(i), "name": info["name"], "z": frames.z[a:b], "pos": frames.pos[a:b].astype(np.float64),
                    "energy": float(frames.energy[i]), "n_a": int(info["fragments"][0]),
                    "charges": [int(c) for c in info["fragment_charges"]]})
    return out, config


def reference_monomers(dimers, label, cache_path: Path):
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    key_settings = json.dumps(label, sort_keys=True)
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
    """E(AB) - E(A) - E(B) in eV for each dimer (float64)."""
    out = []
    with torch.no_grad():
        for d in dimers:
            z = torch.as_tensor(d["z"], dtype=torch.long)
            pos = torch.as_tensor(d["pos"], dtype=torch.float64)
            n = d["n_a"]
            e = [float(model(zz, pp, torch.zeros(len(zz), dtype=torch.long)).sum())
                 for zz, pp in ((z, pos), (z[:n], pos[:n]), (z[n:], pos[n:]))]
            out.append(e[0] - e[1] - e[2])
    return np.array(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default=str(HERE.parent / "configs" / "range-schnet.yaml"))
    p.add_argument("--dimers", default="data/dimers-xtb")
    p.add_argument("--models", nargs="*", default=list(MODELS))
    p.add_argument("--cache", default=str(HERE / "results" / "dimer_longrange_monomers.json"))
    p.add_argument("--out", default=str(HERE / "results" / "dimer_longrange"))
    args = p.parse_args()
    torch.set_num_threads(1)
    dimers, _ = test_dimers(args.config, args.dimers)
    label = json.loads((Path(args.dimers) / "meta.json").read_text())["label"]
    monomers = reference_monomers(dimers, label, Path(args.cache))
    ref = np.array([d["energy"] - ea - eb for d, (ea, eb) in zip(dimers, monomers)])
    gaps = np.array([min_distance(d["pos"][:d["n_a"]], d["pos"][d["n_a"]:]) for d in dimers])
    results = {"test_dimers": len(dimers), "config": args.config, "models": {}, "bars": []}
    table = ["| model | cutoff (Å) | " + " | ".join(f"gap {lo:g}-{hi:g} Å" if hi < 100 else f"gap > {lo:g} Å"
                                                  for lo, hi in GAP_BINS) + " | beyond cutoff |",
             "|---|---|" + "---|" * (len(GAP_BINS) + 1)]
    counts = [int(((gaps > lo) & (gaps <= hi)).sum()) for lo, hi in GAP_BINS]
    table.insert(2, "| reference mean abs E_int (meV) | | " + " | ".join(
        f"{1e3 * np.abs(ref[(gaps > lo) & (gaps <= hi)]).mean():.1f} (n={c})" if c else "-"
        for (lo, hi), c in zip(GAP_BINS, counts)) + " | |")
    for name in args.models:
        path = shipped_model_path(name)
        if not path.is_file():
            print(f"{name}: not shipped yet, skipped")
            continue
        model = openmm_range.load_model(path).double().eval()
        cutoff = float(model.config.cutoff)
        err = model_interaction(model, dimers) - ref
        beyond = gaps > cutoff
        row = {"cutoff": cutoff, "model_file": str(path),
               "mae_beyond_cutoff_mev": 1e3 * float(np.abs(err[beyond]).mean()) if beyond.any() else None,
               "n_beyond_cutoff": int(beyond.sum()),
               "mae_by_gap_mev": {f"{lo:g}-{hi:g}": 1e3 * float(np.abs(err[(gaps > lo) & (gaps <= hi)]).mean())
                                  for lo, hi in GAP_BINS if ((gaps > lo) & (gaps <= hi)).any()}}
        results["models"][name] = row
        cells = [f"{row['mae_by_gap_mev'].get(f'{lo:g}-{hi:g}', float('nan')):.1f}" for lo, hi in GAP_BINS]
        table.append(f"| {name} | {cutoff:g} | " + " | ".join(cells) + f" | {row['mae_beyond_cutoff_mev']:.1f} |")
    for ranged, base in PAIRS:
        if ranged in results["models"] and base in results["models"]:
            # both beyond the RANGE model's cutoff (the baselines here share it)
            cut = results["models"][ranged]["cutoff"]
            sel = gaps > cut
            r = results["models"][ranged]
            b = results["models"][base]
            results["bars"].append({"bar": f"{ranged} E_int MAE beyond {cut:g} Å < {base}",
                                    "range_mev": r["mae_beyond_cutoff_mev"], "baseline_mev": b["mae_beyond_cutoff_mev"],
                                    "n": int(sel.sum()), "met": r["mae_beyond_cutoff_mev"] < b["mae_beyond_cutoff_mev"]})
    lines = ["# Dimer interaction energies on the held-out test split", "",
             f"{len(dimers)} test dimers of `{args.dimers}` (split of `{Path(args.config).name}`). "
             "E_int = E(AB) - E(A) - E(B); reference GFN2-xTB (monomers computed here with the dataset's "
             "label settings). MAE of E_int in meV by closest-atom gap:", ""] + table
    if results["bars"]:
        lines += ["", "| bar | RANGE (meV) | baseline (meV) | dimers | met |", "|---|---|---|---|---|"]
        lines += [f"| {b['bar']} | {b['range_mev']:.1f} | {b['baseline_mev']:.1f} | {b['n']} | "
                  f"{'yes' if b['met'] else 'NO'} |" for b in results["bars"]]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out.with_suffix(".json"), lambda tmp: Path(tmp).write_text(json.dumps(results, indent=2) + "\n"))
    atomic_write(out.with_suffix(".md"), lambda tmp: Path(tmp).write_text("\n".join(lines) + "\n"))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
