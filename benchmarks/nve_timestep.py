"""Which time step does a model allow? NVE energy conservation of DHA in OpenMM.

From the bundled DHA structure (minimised with the model) with Maxwell-Boltzmann velocities at
``--temperature`` (same seed for every run), a ``VerletIntegrator`` runs ``--ps`` ps at each
time step. Without a thermostat the total energy must stay constant; the integrator's error
grows with the step and with the stiffness of the potential, and past the stability limit of
the fastest motion (X-H stretches, period ~10 fs) energy pours in. A Langevin thermostat at
1/ps cannot remove a sudden gain of several eV, which then breaks bonds: compare
``benchmarks/dha_stability.py``. Per model and step, the total energy (kJ/mol) from 10 fs on:
its spread (max - min) and drift (end - start); and the temperature range.
Writes ``benchmarks/results/nve_timestep.{md,json}``.

    .venv/bin/python benchmarks/nve_timestep.py [--models range-schnet runs/.../best_model.pt] [--ps 2]
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "benchmarks" / "results" / "nve_timestep"


def run(model: str, model_path, dt_fs: float, ps: float, temperature: float, seed: int):
    import openmm
    import openmm.app as app
    import openmm.unit as unit
    from openmmml import MLPotential

    from openmm_range.structures import dha_pdb_path

    pdb = app.PDBFile(str(dha_pdb_path()))
    system = MLPotential(model, modelPath=model_path).createSystem(pdb.topology)
    integrator = openmm.VerletIntegrator(dt_fs * unit.femtoseconds)
    context = openmm.Context(system, integrator, openmm.Platform.getPlatformByName("CPU"))
    context.setPositions(pdb.positions)
    openmm.LocalEnergyMinimizer.minimize(context)
    context.setVelocitiesToTemperature(temperature * unit.kelvin, seed)
    dof = 3 * system.getNumParticles() - 3
    kb = unit.MOLAR_GAS_CONSTANT_R.value_in_unit(unit.kilojoule_per_mole / unit.kelvin)
    steps_per_sample = max(1, int(round(10.0 / dt_fs)))  # every 10 fs
    samples = int(round(ps * 1000.0 / (dt_fs * steps_per_sample)))
    totals, temps = [], []
    for _ in range(samples + 1):
        state = context.getState(getEnergy=True)
        kinetic = state.getKineticEnergy().value_in_unit(unit.kilojoule_per_mole)
        totals.append(kinetic + state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole))
        temps.append(2 * kinetic / (dof * kb))
        if not np.isfinite(totals[-1]):
            break
        integrator.step(steps_per_sample)
    # the first sample is left out: right after setVelocitiesToTemperature the integrator's
    # velocities are not yet those of its own scheme (a one-off offset of several kJ/mol)
    totals = np.array(totals[1:])
    finite = bool(np.isfinite(totals).all())
    return {"dt_fs": dt_fs, "spread_kj_mol": float(totals.max() - totals.min()) if finite else float("inf"),
            "drift_kj_mol": float(totals[-1] - totals[0]) if finite else float("inf"),
            "temperature_min_k": float(np.nanmin(temps)), "temperature_max_k": float(np.nanmax(temps))}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["range-schnet", "runs/stability/range-schnet-stretch/best_model.pt"])
    p.add_argument("--steps-fs", nargs="+", type=float, default=[0.5, 1.0, 2.0])
    p.add_argument("--ps", type=float, default=2.0)
    p.add_argument("--temperature", type=float, default=300.0)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args()
    import torch

    import openmm_range

    torch.set_num_threads(1)
    results = []
    for spec in args.models:
        # a model file: its architecture from its metadata (read as data)
        name, path = (spec, None) if not spec.endswith(".pt") else (openmm_range.read_metadata(spec)["name"], spec)
        for dt in args.steps_fs:
            r = run(name, path, dt, args.ps, args.temperature, args.seed)
            r["model"] = spec
            results.append(r)
            print(json.dumps(r), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"ps": args.ps, "temperature_k": args.temperature,
                                                    "seed": args.seed, "results": results}, indent=1) + "\n")
    lines = [f"# NVE energy conservation of DHA: {args.ps:g} ps, velocities at {args.temperature:g} K (seed "
             f"{args.seed}), VerletIntegrator, CPU platform", "",
             "| model | step (fs) | E_total spread (kJ/mol) | E_total drift (kJ/mol) | T range (K) |",
             "|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['model']} | {r['dt_fs']:g} | {r['spread_kj_mol']:.2f} | "
                     f"{r['drift_kj_mol']:+.2f} | {r['temperature_min_k']:.0f}-{r['temperature_max_k']:.0f} |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
