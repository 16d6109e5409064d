"""Which time step does a model allow? NVE energy conservation of DHA in OpenMM.

From the bundled DHA structure (minimised with the model) with Maxwell-Boltzmann velocities at
``--temperature`` (the same seeds for every model and step), a ``VerletIntegrator`` runs ``--ps`` ps at each
time step. Without a thermostat the total energy must stay constant; the integrator's error
grows with the step and with the stiffness of the potential, and past the stability limit of
the fastest motion (X-H stretches, period ~10 fs) energy pours in. A Langevin thermostat at
1/ps cannot remove a sudden gain of several eV, which then breaks bonds: compare
``benchmarks/dha_stability.py``. Per model and step, the total energy (kJ/mol) from 10 fs on:
its spread (max - min) and drift (end - start); the temperature range; and the first bond
(sampled every 10 fs) that left its minimised length by more than 0.5 Å. A break with the
total energy conserved is a hole in the model's surface, not an integration failure: the
trajectory fell into a region the model puts far too low. Each row records the SHA-256 of
the model file, so that a model card quotes only runs of its own file, and the broken frame
relabelled with GFN2-xTB (energies above the start, model and reference, and the positions).

``--models gfn2-xtb`` runs the same protocol on GFN2-xTB itself (tblite, through an
``openmm.PythonForce``): the reference the models learn. If a model conserves energy much
worse than GFN2-xTB at the same step, its potential is stiffer or rougher than the
reference's; if both do equally badly, the step is simply too long for free X-H bonds.
Writes ``<out>.{md,json}`` (``--out``, default ``benchmarks/results/nve_timestep``);
``--frequencies`` writes ``<out>_frequencies.{md,json}``.

    .venv/bin/python benchmarks/nve_timestep.py [--models range-schnet runs/.../best_model.pt gfn2-xtb] [--ps 2]
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from openmm_range.files import write_text_atomic  # noqa: E402
OUT = ROOT / "benchmarks" / "results" / "nve_timestep"
#: the reference method, run through tblite instead of a model
REFERENCE = "gfn2-xtb"
#: a bond that leaves its minimised length by more than this (Å) is broken, as in dha_stability.py
BREAK_A = 0.5
#: the two header lines of the results table (rows: :func:`table_row`)
TABLE_HEADER = (f"| model | step (fs) | seed | E_total spread (kJ/mol) | E_total drift (kJ/mol) | T range (K) | "
                f"first bond change > {BREAK_A:g} Å |", "|---|---|---|---|---|---|---|")
#: speed of light, cm/s (wavenumbers)
LIGHT_CM_PER_S = 2.99792458e10


def model_spec(spec: str):
    """``(architecture name, model file or None)`` of a ``--models`` entry: a shipped name (or
    ``gfn2-xtb``) or a model file, whose architecture is read from its metadata (as data)."""
    import openmm_range

    from systems import in_repo

    if not spec.endswith(".pt"):
        return spec, None
    path = in_repo(spec)
    return openmm_range.read_metadata(path)["name"], path


class XTBForce:
    """``openmm.PythonForce`` callable: GFN2-xTB energy (kJ/mol) and forces (kJ/mol/nm) of a molecule."""

    def __init__(self, z):
        from openmm_range.data.generate.potentials import XTBPotential

        self.potential = XTBPotential(z)

    def __call__(self, state):
        import openmm.unit as unit

        from openmm_range.units import ANGSTROM_PER_NM, KJ_PER_MOL_PER_EV

        pos = state.getPositions(asNumpy=True).value_in_unit(unit.nanometer) * ANGSTROM_PER_NM
        energy, forces = self.potential(np.asarray(pos))
        return energy * KJ_PER_MOL_PER_EV, forces * (KJ_PER_MOL_PER_EV * ANGSTROM_PER_NM)


def reference_system(topology):
    """A System of ``topology`` (one molecule, neutral) whose only force is GFN2-xTB, with a
    CMMotionRemover as the models' systems have (``MLPotential.createSystem`` adds one)."""
    import openmm

    system = openmm.System()
    for atom in topology.atoms():
        system.addParticle(atom.element.mass)
    z = np.array([atom.element.atomic_number for atom in topology.atoms()])
    system.addForce(openmm.PythonForce(XTBForce(z)))
    system.addForce(openmm.CMMotionRemover())
    return system


def minimised_dha(model: str, model_path, dt_fs: float):
    """(system, context with a VerletIntegrator of step ``dt_fs``) at DHA's minimum for the model."""
    import openmm
    import openmm.app as app
    import openmm.unit as unit
    from openmmml import MLPotential

    from openmm_range.structures import dha_pdb_path

    pdb = app.PDBFile(str(dha_pdb_path()))
    if model == REFERENCE:
        system = reference_system(pdb.topology)
    else:
        system = MLPotential(model, modelPath=model_path).createSystem(pdb.topology)
    integrator = openmm.VerletIntegrator(dt_fs * unit.femtoseconds)
    context = openmm.Context(system, integrator, openmm.Platform.getPlatformByName("CPU"))
    context.setPositions(pdb.positions)
    openmm.LocalEnergyMinimizer.minimize(context)
    return system, context


def harmonic_frequencies(model: str, model_path, step_nm: float = 2e-4) -> np.ndarray:
    """DHA's harmonic frequencies (cm^-1, ascending; imaginary ones negative) at the model's
    minimum: the mass-weighted Hessian by central differences of the forces (6 * N evaluations).
    The highest (X-H stretches) set the step: Verlet is unstable beyond dt = period / pi and
    inaccurate well before it."""
    import openmm.unit as unit

    system, context = minimised_dha(model, model_path, 1.0)
    x0 = context.getState(getPositions=True).getPositions(asNumpy=True).value_in_unit(unit.nanometer)
    n = x0.shape[0]
    hessian = np.zeros((3 * n, 3 * n))
    for k in range(3 * n):
        forces = []
        for sign in (1.0, -1.0):
            x = x0.copy()
            x[k // 3, k % 3] += sign * step_nm
            context.setPositions(x)
            f = context.getState(getForces=True).getForces(asNumpy=True)
            forces.append(f.value_in_unit(unit.kilojoule_per_mole / unit.nanometer).reshape(-1))
        hessian[k] = -(forces[0] - forces[1]) / (2 * step_nm)  # kJ/mol/nm^2
    masses = np.repeat([system.getParticleMass(i).value_in_unit(unit.dalton) for i in range(n)], 3)
    weighted = 0.5 * (hessian + hessian.T) / np.sqrt(np.outer(masses, masses))  # (kJ/mol)/(nm^2 u) = 1e24 s^-2
    eig = np.linalg.eigvalsh(weighted)
    omega = np.sign(eig) * np.sqrt(np.abs(eig)) * 1e12  # rad/s
    return omega / (2 * np.pi * LIGHT_CM_PER_S)


def run(model: str, model_path, dt_fs: float, ps: float, temperature: float, seed: int):
    """One NVE run: total-energy spread and drift (kJ/mol), temperature range (K), and the first
    bond that left its minimised length by more than ``BREAK_A`` Å (``dha_stability.py``'s
    criterion) with its time (ps) and GFN2-xTB's view of it (:func:`relabel`). The run goes on
    after a break, so that spread and drift always cover the whole run."""
    import openmm.app as app
    import openmm.unit as unit

    from openmm_range.openmm.simulation import bond_lengths, largest_bond_change, ml_bonds
    from openmm_range.structures import dha_pdb_path

    system, context = minimised_dha(model, model_path, dt_fs)
    topology = app.PDBFile(str(dha_pdb_path())).topology
    atoms, bonds = list(topology.atoms()), ml_bonds(topology)
    start = context.getState(getPositions=True, getEnergy=True)
    reference = bond_lengths(system, start, bonds)
    first_break = None
    integrator = context.getIntegrator()
    context.setVelocitiesToTemperature(temperature * unit.kelvin, seed)
    dof = 3 * system.getNumParticles() - 3
    kb = unit.MOLAR_GAS_CONSTANT_R.value_in_unit(unit.kilojoule_per_mole / unit.kelvin)
    steps_per_sample = max(1, int(round(10.0 / dt_fs)))  # every 10 fs
    samples = int(round(ps * 1000.0 / (dt_fs * steps_per_sample)))
    totals, temps = [], []
    for sample in range(samples + 1):
        state = context.getState(getEnergy=True, getPositions=True)
        kinetic = state.getKineticEnergy().value_in_unit(unit.kilojoule_per_mole)
        totals.append(kinetic + state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole))
        temps.append(2 * kinetic / (dof * kb))
        if not np.isfinite(totals[-1]):
            break
        if first_break is None:
            k, stretch_nm = largest_bond_change(system, state, bonds, reference)
            if stretch_nm * 10.0 > BREAK_A:
                a, b = (atoms[int(i)] for i in bonds[k])
                first_break = {"time_ps": sample * steps_per_sample * dt_fs / 1000.0,
                               "bond": f"{a.name}-{b.name}", "stretch_a": stretch_nm * 10.0,
                               **relabel(model, atoms, start, state)}
        integrator.step(steps_per_sample)
    # the first sample is left out: setVelocitiesToTemperature leaves centre-of-mass motion,
    # which the CMMotionRemover takes out at the first step (a one-off offset of several kJ/mol)
    totals = np.array(totals[1:])
    finite = bool(np.isfinite(totals).all())
    return {"dt_fs": dt_fs, "spread_kj_mol": float(totals.max() - totals.min()) if finite else float("inf"),
            "drift_kj_mol": float(totals[-1] - totals[0]) if finite else float("inf"),
            "temperature_min_k": float(np.nanmin(temps)), "temperature_max_k": float(np.nanmax(temps)),
            "first_break": first_break}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["range-schnet", "runs/stability/range-schnet-stretch/best_model.pt"])
    p.add_argument("--steps-fs", nargs="+", type=float, default=[0.5, 1.0, 2.0])
    p.add_argument("--ps", type=float, default=2.0)
    p.add_argument("--temperature", type=float, default=300.0)
    p.add_argument("--seeds", nargs="+", type=int, default=[7], help="velocity seeds (one run each)")
    p.add_argument("--out", default=str(OUT))
    p.add_argument("--frequencies", action="store_true",
                   help="instead of NVE runs: each model's highest harmonic frequencies at DHA's minimum")
    args = p.parse_args()
    import torch

    torch.set_num_threads(1)
    if args.frequencies:
        return write_frequencies(args.models, Path(args.out))
    results = []
    for spec in args.models:
        name, path = model_spec(spec)
        for dt in args.steps_fs:
            for seed in args.seeds:
                r = run(name, path, dt, args.ps, args.temperature, seed)
                r.update(model=spec, seed=seed, model_file_sha256=file_sha256(name, path))
                results.append(r)
                print(json.dumps(r), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out.with_suffix(".json"), json.dumps({"ps": args.ps, "temperature_k": args.temperature,
                                                    "seeds": args.seeds, "results": results}, indent=1) + "\n")
    lines = [f"# NVE energy conservation of DHA: {args.ps:g} ps, velocities at {args.temperature:g} K, "
             "VerletIntegrator, CPU platform", "",
             *TABLE_HEADER, *(table_row(r) for r in results)]
    write_text_atomic(out.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def relabel(model: str, atoms, start, state) -> dict:
    """Energy (eV) of ``state`` above the run's ``start`` by the model and by GFN2-xTB, and
    the positions (Å): is the broken geometry as low for the reference as the model says?"""
    import openmm.unit as unit

    from openmm_range.data.generate.potentials import XTBPotential
    from openmm_range.units import KJ_PER_MOL_PER_EV

    def pos_a(s):
        return s.getPositions(asNumpy=True).value_in_unit(unit.angstrom)

    def pe_ev(s):
        return s.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole) / KJ_PER_MOL_PER_EV

    out = {"model_delta_ev": pe_ev(state) - pe_ev(start), "positions_a": pos_a(state).round(4).tolist()}
    if model != REFERENCE:
        xtb = XTBPotential(np.array([a.element.atomic_number for a in atoms]))
        out["xtb_delta_ev"] = float(xtb(pos_a(state))[0] - xtb(pos_a(start))[0])
    return out


def table_row(r: dict) -> str:
    """One result as a row of the Markdown table (``first_break`` absent in older result files)."""
    brk = r.get("first_break")
    where = "-" if not brk else f"{brk['time_ps']:.2f} ps, {brk['bond']} ({brk['stretch_a']:.1f} Å)"
    if brk and "xtb_delta_ev" in brk:
        where += f"; E - E(start): model {brk['model_delta_ev']:+.1f}, GFN2-xTB {brk['xtb_delta_ev']:+.1f} eV"
    return (f"| {r['model']} | {r['dt_fs']:g} | {r['seed']} | {r['spread_kj_mol']:.2f} | {r['drift_kj_mol']:+.2f} | "
            f"{r['temperature_min_k']:.0f}-{r['temperature_max_k']:.0f} | {where} |")


def file_sha256(name: str, model_path):
    """SHA-256 of the model file a run used (None for GFN2-xTB): how model cards find their runs."""
    if name == REFERENCE:
        return None
    from openmm_range.openmm.md_checkpoint import sha256
    from openmm_range.openmm.model_files import resolve_model_file

    return sha256(Path(resolve_model_file(name, str(model_path) if model_path else None)))


def write_frequencies(models, out: Path, top: int = 5) -> int:
    """Each model's ``top`` highest harmonic frequencies, and the Verlet stability limit of the highest."""
    lines = ["# DHA harmonic frequencies at each model's own minimum (central differences of the forces)", "",
             f"| model | highest {top} (cm^-1) | lowest (cm^-1) | period of the highest (fs) | "
             "Verlet limit period/pi (fs) |", "|---|---|---|---|---|"]
    results = []
    for spec in models:
        freq = harmonic_frequencies(*model_spec(spec))
        period_fs = 1e15 / (freq[-1] * LIGHT_CM_PER_S)
        results.append({"model": spec, "frequencies_cm": freq.tolist(), "period_fs": period_fs})
        lines.append(f"| {spec} | {', '.join(f'{f:.0f}' for f in freq[::-1][:top])} | {freq[0]:.0f} | "
                     f"{period_fs:.2f} | {period_fs / np.pi:.2f} |")
        print(lines[-1], flush=True)
    out = out.with_name(out.name + "_frequencies")
    write_text_atomic(out.with_suffix(".json"), json.dumps(results, indent=1) + "\n")
    write_text_atomic(out.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
