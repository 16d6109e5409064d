"""MD throughput (ns/day at 2 fs) of RANGE vs. plain SchNet inside OpenMM.

Systems: DHA (56 atoms, all ML) in vacuum, and alanine dipeptide (22 ML atoms) in
TIP3P-FB water (amber19, PME; mechanical embedding). Models: range-schnet at 5 Å and
schnet at 5, 7, 9 and 12 Å, all with the same width (untrained: speed does not depend on
the weights). Every model runs with both backends (TorchForce, PythonForce) on every
OpenMM platform present.

All simulations live side by side in one process; each repeat times ``--steps`` steps of
every configuration in turn (so machine-load drifts hit all alike), and the median over
repeats is reported. Results: ``benchmarks/results/md_throughput_<platform>.csv`` and
``.md`` (a table plus the target check: range-schnet 5 Å step time <= 1.25 x schnet 5 Å
and <= 0.8 x schnet 12 Å).

    python benchmarks/md_throughput.py [--steps 50] [--repeats 3] [--warmup 20]
        [--platforms CPU Reference] [--width 128] [--heads 16] [--threads 1]
"""
import argparse
import csv
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

import openmm
import openmm.app as app
import openmm.unit as unit
import torch

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
DHA_PDB = REPO / "openmm_range" / "resources" / "dha.pdb"
ALANINE_PDB = REPO.parent / "shared" / "data" / "alanine-dipeptide-explicit.pdb"
MODELS = [("range-schnet", 5.0), ("schnet", 5.0), ("schnet", 7.0), ("schnet", 9.0), ("schnet", 12.0)]
BACKENDS = ("torchforce", "python")
TIMESTEP_FS = 2.0


def make_models(directory: Path, hidden: int, heads: int) -> Dict[tuple, Path]:
    """Untrained models of equal width, saved to ``directory``."""
    import openmm_range

    paths = {}
    for name, cutoff in MODELS:
        torch.manual_seed(0)
        model = openmm_range.create_model(name, cutoff=cutoff, hidden_channels=hidden, num_heads=heads,
                                          elements=[1, 6, 7, 8])
        paths[(name, cutoff)] = directory / f"{name}-{cutoff:g}.pt"
        openmm_range.save_model(model, paths[(name, cutoff)])
    return paths


def build(system_name: str, name: str, path: Path, backend: str):
    """(topology, positions, System) for one configuration."""
    from openmmml import MLPotential

    potential = MLPotential(name, modelPath=str(path))
    if system_name == "dha-vacuum":
        pdb = app.PDBFile(str(DHA_PDB))
        return pdb, potential.createSystem(pdb.topology, backend=backend), pdb.topology.getNumAtoms()
    pdb = app.PDBFile(str(ALANINE_PDB))
    mm = app.ForceField("amber19-all.xml", "amber19/tip3pfb.xml").createSystem(
        pdb.topology, nonbondedMethod=app.PME, constraints=app.HBonds)
    ml_atoms = [a.index for a in pdb.topology.atoms() if a.residue.chain.index == 0]
    return pdb, potential.createMixedSystem(pdb.topology, mm, ml_atoms, backend=backend), len(ml_atoms)


class Run:
    """One live simulation: a configuration and its timings (ms/step)."""

    def __init__(self, platform: str, system_name: str, name: str, cutoff: float, backend: str, path: Path):
        from openmm_range.openmm.simulation import backend_in_use

        self.key = dict(platform=platform, system=system_name, model=name, cutoff_A=cutoff, backend=backend)
        pdb, system, self.n_ml = build(system_name, name, path, backend)
        self.n_atoms = system.getNumParticles()
        self.used_backend = backend_in_use(system)
        self.integrator = openmm.LangevinMiddleIntegrator(300 * unit.kelvin, 1 / unit.picosecond,
                                                         TIMESTEP_FS * unit.femtoseconds)
        self.integrator.setRandomNumberSeed(1)
        self.context = openmm.Context(system, self.integrator, openmm.Platform.getPlatformByName(platform))
        self.context.setPositions(pdb.positions)
        self.context.setVelocitiesToTemperature(300 * unit.kelvin, 1)
        self.ms_per_step: List[float] = []
        self.error = ""

    def step(self, steps: int, record: bool) -> None:
        if self.error:
            return
        try:
            start = time.perf_counter()
            self.integrator.step(steps)
            self.context.getState(getEnergy=True)  # wait for the platform to finish
            elapsed = time.perf_counter() - start
        except Exception as exc:  # an unstable untrained model must not stop the benchmark
            self.error = str(exc).splitlines()[0][:120]
            return
        if record:
            self.ms_per_step.append(1e3 * elapsed / steps)

    def row(self, hidden: int, threads: int) -> Dict[str, object]:
        median = statistics.median(self.ms_per_step) if self.ms_per_step else float("nan")
        return {**self.key, "backend_used": self.used_backend, "hidden_channels": hidden, "ml_atoms": self.n_ml,
                "particles": self.n_atoms, "median_ms_per_step": round(median, 3),
                "ns_per_day": round(TIMESTEP_FS * 1e-6 * 86400e3 / median, 3) if self.ms_per_step else float("nan"),
                "runs_ms_per_step": " ".join(f"{t:.2f}" for t in self.ms_per_step), "torch_threads": threads,
                "error": self.error}


def target_lines(rows: List[Dict]) -> List[str]:
    """The target check per (system, backend): range 5 Å vs schnet 5 Å and 12 Å step times."""
    lines = []
    by = {(r["system"], r["backend"], r["model"], r["cutoff_A"]): r["median_ms_per_step"] for r in rows}
    for system_name in sorted({r["system"] for r in rows}):
        for backend in BACKENDS:
            rng = by.get((system_name, backend, "range-schnet", 5.0))
            s5 = by.get((system_name, backend, "schnet", 5.0))
            s12 = by.get((system_name, backend, "schnet", 12.0))
            if None in (rng, s5, s12) or any(v != v for v in (rng, s5, s12)):
                continue
            r5, r12 = rng / s5, rng / s12
            lines.append(f"| {system_name} | {backend} | {r5:.2f} ({'met' if r5 <= 1.25 else 'MISSED'}) | "
                         f"{r12:.2f} ({'met' if r12 <= 0.8 else 'MISSED'}) |")
    return lines


def write_results(platform: str, rows: List[Dict], args) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    csv_path = RESULTS / f"md_throughput_{platform}.csv"
    with open(csv_path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    md = [f"# MD throughput on the OpenMM {platform} platform", "",
          f"LangevinMiddle, {TIMESTEP_FS:g} fs; untrained models of width {args.hidden} ({args.heads} RANGE heads); median of "
          f"{args.repeats} runs of {args.steps} steps after {args.warmup} warm-up steps; torch threads "
          f"{args.threads}; all configurations side by side in one process.", "",
          "| system | model | cutoff (Å) | backend | ms/step | ns/day |", "|---|---|---|---|---|---|"]
    for r in rows:
        note = f" (failed: {r['error']})" if r["error"] else ""
        md.append(f"| {r['system']} | {r['model']} | {r['cutoff_A']:g} | {r['backend']} | "
                  f"{r['median_ms_per_step']} | {r['ns_per_day']}{note} |")
    md += ["", "Targets: range-schnet 5 Å step time <= 1.25 x schnet 5 Å and <= 0.8 x schnet 12 Å.", "",
           "| system | backend | range5 / schnet5 | range5 / schnet12 |", "|---|---|---|---|"]
    md += target_lines(rows)
    (RESULTS / f"md_throughput_{platform}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    print(f"wrote {csv_path}")


def main(argv=None) -> int:
    from openmm_range.openmm.backends import torchforce_status
    from openmm_range.openmm.simulation import available_platforms

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=50, help="steps per timed run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per configuration (median reported)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps first (TorchScript warm-up)")
    parser.add_argument("--platforms", nargs="+", default=None, help="default: every platform present")
    parser.add_argument("--systems", nargs="+", default=["dha-vacuum", "alanine-water"])
    parser.add_argument("--width", "--hidden", dest="hidden", type=int, default=128,
                        help="width of every model (default 128)")
    parser.add_argument("--heads", type=int, default=16, help="RANGE attention heads (default 16)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    platforms = args.platforms or [p for p in available_platforms() if p in ("CUDA", "HIP", "CPU", "Reference")]
    backends = [b for b in BACKENDS if b == "python" or torchforce_status()[0]]
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_models(Path(tmp), args.hidden, args.heads)
        for platform in platforms:
            runs = [Run(platform, system_name, name, cutoff, backend, paths[(name, cutoff)])
                    for system_name in args.systems for name, cutoff in MODELS for backend in backends]
            for run in runs:
                run.step(args.warmup, record=False)
            for _ in range(args.repeats):
                for run in runs:
                    run.step(args.steps, record=True)
            write_results(platform, [run.row(args.hidden, args.threads) for run in runs], args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
