"""Stability of Langevin dynamics of DHA with a shipped model (paper Fig. 4 analogue).

Runs ``--runs`` independent Langevin simulations (different seeds) of the bundled DHA
structure at ``--temperature`` with ``openmm-range simulate`` machinery, then checks each
trajectory: bonds intact (every PDB bond stays within ``--max-bond-stretch`` of its
starting length), energies finite, maximum force bounded (evaluated with the model on
every saved frame), and records the radius of gyration over time (via the same code as
``openmm-range analyze``). Writes into ``--out``: one DCD/CSV per run, ``summary.json``,
``rg_vs_time.csv`` and ``rg_vs_time.png``.

    .venv/bin/python benchmarks/dha_stability.py --runs 8 --ps 100     # the issue's setting

Resumable: each finished run leaves ``run<k>.json``; a rerun with the same model file and
settings reuses it. A run in progress checkpoints every ``--checkpoint-ps`` into ``run<k>.chk``
(``openmm-range simulate --checkpoint``); a rerun continues it from there, and the checkpoint is
deleted once the run has finished. ``--only 0,1,2,3`` computes just those runs (so two processes can share
the work); every invocation rewrites the summary and the plot from all finished runs.
``--xtb-frames`` frames of each run are re-labelled with GFN2-xTB (the training reference) to
measure how far the model's energy and forces are off along its own trajectory; results also
go to ``summary.md``. A run counts as visiting the compact / extended state when its Rg goes below
``--compact-rg`` / above ``--extended-rg``.
"""
import argparse
import csv
import hashlib
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import openmm_range  # noqa: E402
from openmm_range.openmm.analysis import radius_of_gyration  # noqa: E402
from openmm_range.openmm.model_files import resolve_model_file  # noqa: E402
from openmm_range.openmm.md_checkpoint import read_checkpoint  # noqa: E402
from openmm_range.openmm.simulation import BondBrokenError, SimulationConfig, run_simulation  # noqa: E402
from openmm_range.serialization import atomic_write  # noqa: E402
from openmm_range.structures import dha_pdb_path  # noqa: E402


def _sha256(path) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def _finished(out: Path, k: int, settings) -> bool:
    path = out / f"run{k}.json"
    return path.exists() and json.loads(path.read_text()).get("settings") == settings


def other_runs(out: Path, settings) -> list:
    """Indices of the runs in ``out`` made with other settings (another model file, step, length...):
    finished ones (run<k>.json) and ones in progress (run<k>.chk: compared on model file, step,
    constraints, temperature and report interval, and refused when already past this length)."""
    found = {int(path.stem[3:]) for path in out.glob("run*.json") if not _finished(out, int(path.stem[3:]), settings)}
    keys = ("model_file_sha256", "timestep_fs", "constraints", "temperature_k", "report_interval")
    steps = int(round(settings["ps"] * 1000.0 / settings["timestep_fs"]))
    for path in out.glob("run*.chk"):
        meta = read_checkpoint(path)["meta"]
        saved = meta.get("settings", {})
        if tuple(saved.get(key) for key in keys) != tuple(settings.get(key) for key in keys) or meta["step"] > steps:
            found.add(int(path.stem[3:]))
    return sorted(found)


def bond_offsets(dcd: Path, bonds, ref_lengths):
    """The trajectory and (frames, B) |bond length - reference| in Å."""
    import mdtraj

    traj = mdtraj.load(str(dcd), top=str(dha_pdb_path()))
    xyz = torch.tensor(traj.xyz, dtype=torch.float64)  # nm
    return traj, ((xyz[:, bonds[:, 0]] - xyz[:, bonds[:, 1]]).norm(dim=-1) - ref_lengths).abs() * 10.0


def first_break(dcd: Path, bonds, ref_lengths, max_stretch: float, ps_per_frame: float):
    """(time in ps, 'ATOM-ATOM') of the first frame where a bond is off by more than ``max_stretch`` Å,
    or (None, None)."""
    traj, off = bond_offsets(dcd, bonds, ref_lengths)
    bad = (off > max_stretch).any(dim=1).nonzero()
    if len(bad) == 0:
        return None, None
    f = int(bad[0])
    i, j = bonds[int(off[f].argmax())].tolist()
    return (f + 1) * ps_per_frame, f"{traj.topology.atom(i).name}-{traj.topology.atom(j).name}"


def reference_check(dcd: Path, model, z, frames: int):
    """Model vs GFN2-xTB (the training reference; tblite, accuracy 0.01) on ``frames`` evenly spaced
    frames of a trajectory: energy difference (eV) and force MAE (meV/Å) per frame."""
    import mdtraj

    from openmm_range.data.generate.potentials import XTBPotential

    traj = mdtraj.load(str(dcd), top=str(dha_pdb_path()))
    xtb = XTBPotential(np.asarray(z), accuracy=0.01)
    zt = torch.as_tensor(z)
    out = []
    for f in np.linspace(0, len(traj) - 1, frames).round().astype(int):
        pos = torch.tensor(traj.xyz[f] * 10.0, dtype=torch.float64, requires_grad=True)
        energy = model(zt, pos, torch.zeros(len(z), dtype=torch.long)).sum()
        (grad,) = torch.autograd.grad(energy, pos)
        e_ref, f_ref = xtb(pos.detach().numpy())
        out.append({"frame": int(f), "energy_error_ev": float(energy.detach()) - e_ref,
                    "force_mae_mev_a": 1e3 * float(np.abs(-grad.numpy() - f_ref).mean())})
    return out


def check_run(dcd: Path, csv_path: Path, module, bonds, ref_lengths, max_stretch: float):
    traj, off = bond_offsets(dcd, bonds, ref_lengths)
    stretch = float(off.max())  # Å
    xyz = torch.tensor(traj.xyz, dtype=torch.float64)  # nm
    max_force = 0.0
    for frame in xyz:
        _, forces = module(frame)
        max_force = max(max_force, float(forces.norm(dim=1).max()))
    with open(csv_path) as fh:  # OpenMM StateDataReporter: '#"Step","Time (ps)","Potential Energy (kJ/mole)",...'
        rows = list(csv.reader(fh))
    column = next(i for i, name in enumerate(rows[0]) if "Potential Energy" in name)
    energies = [float(row[column]) for row in rows[1:]]
    return {"frames": len(traj), "max_bond_stretch_angstrom": stretch, "bonds_intact": stretch <= max_stretch,
            "energies_finite": all(math.isfinite(e) for e in energies), "max_force_kj_mol_nm": max_force,
            "potential_energy_range_kj_mol": [min(energies), max(energies)] if energies else None}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="range-schnet")
    p.add_argument("--model-path", default=None)
    p.add_argument("--runs", type=int, default=8)
    p.add_argument("--ps", type=float, default=100.0, help="simulated time per run, ps")
    p.add_argument("--timestep-fs", type=float, default=1.0)
    p.add_argument("--constraints", default=None, choices=("hbonds",),
                   help="hbonds: X-H bonds held at their minimised lengths (simulate --constraints); default free")
    p.add_argument("--temperature", type=float, default=300.0)
    p.add_argument("--report-interval", type=int, default=100)
    p.add_argument("--platform", default="auto")
    p.add_argument("--max-bond-stretch", type=float, default=0.5, help="Å")
    p.add_argument("--max-force", type=float, default=1e4, help="kJ/mol/nm bound on any atom's force")
    p.add_argument("--out", default=str(HERE / "results" / "dha_stability"))
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 avoids competing with OpenMM's)")
    p.add_argument("--xtb-frames", type=int, default=5,
                   help="frames per run re-labelled with GFN2-xTB to measure the model's error along the run")
    p.add_argument("--stop-at-break", action="store_true",
                   help="end a run when a bond breaks (simulate's --max-bond-stretch check) instead of running on")
    p.add_argument("--checkpoint-ps", type=float, default=10.0, help="ps between checkpoints of a run in progress")
    p.add_argument("--replace", action="store_true",
                   help="delete the runs in --out made with other settings or another model file (default: refuse)")
    p.add_argument("--only", default=None, help="comma-separated run indices to compute now (default: all)")
    p.add_argument("--compact-rg", type=float, default=6.0, help="Å; Rg below this counts as compact")
    p.add_argument("--extended-rg", type=float, default=7.0, help="Å; Rg above this counts as extended")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = resolve_model_file(args.model, args.model_path)
    model = openmm_range.load_model(path).double()
    import mdtraj

    top = mdtraj.load(str(dha_pdb_path()))
    bonds = torch.tensor([[b[0].index, b[1].index] for b in top.topology.bonds])
    z = [a.element.atomic_number for a in top.topology.atoms]
    module = openmm_range.export(model, z, return_forces=True)
    x0 = torch.tensor(top.xyz[0], dtype=torch.float64)
    ref_lengths = (x0[bonds[:, 0]] - x0[bonds[:, 1]]).norm(dim=-1)
    steps = int(round(args.ps * 1000.0 / args.timestep_fs))
    settings = {"model_file_sha256": _sha256(path), "ps": args.ps, "timestep_fs": args.timestep_fs,
                "temperature_k": args.temperature, "report_interval": args.report_interval}
    if args.constraints:  # (free runs keep the settings they were recorded with)
        settings["constraints"] = args.constraints
    others = other_runs(out, settings)
    if others and not args.replace:
        raise SystemExit(f"{out} holds runs {others} made with other settings or another model file than "
                         f"{path} (--model-path): give --out a folder of its own for this model, or --replace "
                         f"to delete those runs")
    for k in others:  # --replace
        for suffix in ("json", "dcd", "csv", "chk"):
            (out / f"run{k}.{suffix}").unlink(missing_ok=True)
    todo = range(args.runs) if args.only is None else [int(k) for k in args.only.split(",")]
    for k in todo:
        if _finished(out, k, settings):
            print(f"run {k}: already finished with these settings", flush=True)
            continue
        dcd, csv_path, chk = out / f"run{k}.dcd", out / f"run{k}.csv", out / f"run{k}.chk"
        every = max(1, int(round(args.checkpoint_ps * 1000.0 / args.timestep_fs / args.report_interval)))
        first_step = read_checkpoint(chk)["meta"]["step"] if chk.exists() else 0
        t0 = time.perf_counter()
        stopped = None
        try:
            summary = run_simulation(SimulationConfig(
                pdb=dha_pdb_path(), model=args.model, model_path=Path(path), temperature=args.temperature,
                timestep_fs=args.timestep_fs, steps=steps, platform=args.platform, report_interval=args.report_interval,
                dcd=dcd, csv=csv_path, seed=1000 + k, progress=False, checkpoint=chk,
                checkpoint_interval=every * args.report_interval, resume=True, constraints=args.constraints,
                overwrite=True,  # this script removes or resumes its own run files
                # by default bonds are checked afterwards, over the whole run; --stop-at-break ends a run there
                max_bond_stretch=args.max_bond_stretch if args.stop_at_break else None))
            ns_per_day = summary.get("ns_per_day")
        except BondBrokenError as exc:  # ns/day of the MD steps it ran, timed as a finished run's
            stopped = str(exc)
            ns_per_day = exc.steps_run * args.timestep_fs * 1e-6 / (exc.wall_s / 86400.0)
        result = {"run": k, "seed": 1000 + k, "wall_s": time.perf_counter() - t0, "ns_per_day": ns_per_day,
                  "resumed_from_step": first_step or None,
                  "error": None, "stopped_at_break": stopped, "settings": settings}
        try:
            result.update(check_run(dcd, csv_path, module, bonds, ref_lengths, args.max_bond_stretch))
            times, rg, unit = radius_of_gyration(dcd, dha_pdb_path())
            result.update({"rg_min_angstrom": float(rg.min() * 10), "rg_max_angstrom": float(rg.max() * 10)})
        except Exception as exc:  # a blown-up run may leave unreadable frames: report, keep going
            result["error"] = f"{type(exc).__name__}: {exc}"
        if stopped:
            result["bonds_intact"] = False
        result["stable"] = bool(result["error"] is None and result.get("bonds_intact") and result.get("energies_finite")
                                and result.get("max_force_kj_mol_nm", math.inf) <= args.max_force)
        atomic_write(out / f"run{k}.json", lambda tmp: Path(tmp).write_text(json.dumps(result, indent=2) + "\n"))
        chk.unlink(missing_ok=True)
        print(json.dumps(result), flush=True)
    runs = [json.loads((out / f"run{k}.json").read_text()) for k in range(args.runs) if _finished(out, k, settings)]
    series = {}
    for r in runs:
        if r["error"] is None:
            times, rg, unit = radius_of_gyration(out / f"run{r['run']}.dcd", dha_pdb_path())
            series[r["run"]] = (times, rg * 10.0)
            r["visits_compact"] = bool((rg * 10.0 < args.compact_rg).any())
            r["visits_extended"] = bool((rg * 10.0 > args.extended_rg).any())
            r["fraction_compact"] = float((rg * 10.0 < args.compact_rg).mean())
            r["fraction_extended"] = float((rg * 10.0 > args.extended_rg).mean())
            if args.xtb_frames:
                r["xtb_check"] = reference_check(out / f"run{r['run']}.dcd", model, z, args.xtb_frames)
            r["first_break_ps"], r["first_break_bond"] = first_break(
                out / f"run{r['run']}.dcd", bonds, ref_lengths, args.max_bond_stretch,
                args.report_interval * args.timestep_fs / 1000.0)
    report = {"model": args.model, "model_file": str(path), "training_data_hash": model.metadata.get("training_data_hash"),
              "runs": args.runs, "ps_per_run": args.ps, "timestep_fs": args.timestep_fs, "constraints": args.constraints,
              "temperature_k": args.temperature,
              "finished_runs": len(runs), "stable_runs": sum(r["stable"] for r in runs),
              "compact_rg_angstrom": args.compact_rg, "extended_rg_angstrom": args.extended_rg,
              "runs_visiting_compact": sum(r.get("visits_compact", False) for r in runs),
              "runs_visiting_extended": sum(r.get("visits_extended", False) for r in runs), "results": runs}
    atomic_write(out / "summary.json", lambda tmp: Path(tmp).write_text(json.dumps(report, indent=2) + "\n"))
    held = ", X-H bonds constrained" if args.constraints else ""
    lines = [f"# DHA Langevin stability: {args.model}, {args.temperature:g} K, {args.timestep_fs:g} fs{held}, "
             f"{args.ps:g} ps per run", "",
             f"{report['stable_runs']}/{len(runs)} runs stable (of {args.runs} planned). A run is stable when every "
             f"bond stays within {args.max_bond_stretch} Å of its starting length, energies stay finite and no force "
             f"exceeds {args.max_force:g} kJ/mol/nm. Model error vs GFN2-xTB on {args.xtb_frames} frames per run.", "",
             "| run | stable | first break (ps) | bond | Rg min-max (Å) | ns/day | model - xTB energy (eV) | "
             "force MAE vs xTB (meV/Å) |", "|---|---|---|---|---|---|---|---|"]
    for r in runs:
        check = r.get("xtb_check") or []
        e = ", ".join(f"{c['energy_error_ev']:+.1f}" for c in check)
        f = ", ".join(f"{c['force_mae_mev_a']:.0f}" for c in check)
        brk = "-" if r.get("first_break_ps") is None else f"{r['first_break_ps']:.1f}"
        lines.append(f"| {r['run']} | {'yes' if r['stable'] else 'NO'} | {brk} | {r.get('first_break_bond') or '-'} | "
                     f"{r.get('rg_min_angstrom', float('nan')):.2f}-{r.get('rg_max_angstrom', float('nan')):.2f} | "
                     f"{r['ns_per_day']:.2f} | {e} | {f} |")
    atomic_write(out / "summary.md", lambda tmp: Path(tmp).write_text("\n".join(lines) + "\n"))
    if series:  # the plot and CSV are made by `openmm-range analyze` itself
        from openmm_range.cli.main import main as cli

        dcds = [str(out / f"run{k}.dcd") for k in sorted(series)]
        code = cli(["analyze", *dcds, "--top", str(dha_pdb_path()), "--out", str(out / "rg_vs_time"),
                    "--levels", f"{args.compact_rg},{args.extended_rg}",
                    "--title", f"DHA, {args.model}, Langevin {args.temperature:g} K, {args.timestep_fs:g} fs{held}"])
        if code != 0:
            raise SystemExit(code)
    print(f"{report['stable_runs']}/{len(runs)} finished runs stable ({len(runs)}/{args.runs} finished); "
          f"{report['runs_visiting_compact']} visit Rg < {args.compact_rg} Å, "
          f"{report['runs_visiting_extended']} visit Rg > {args.extended_rg} Å; results in {out}")


if __name__ == "__main__":
    main()
