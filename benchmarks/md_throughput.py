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
        [--backends python] [--cuda-graphs default|on|off|both] [--models range-schnet:5 schnet:5]
        [--systems dha-vacuum alanine-water] [--out DIR] [--tag _w64]

``--cuda-graphs both`` runs every configuration with and without the plugin's CUDA graphs
(``cudaGraphs`` of ``createSystem``; it only matters on a CUDA device); ``--out`` and
``--tag`` place the files (``DIR/md_throughput_<platform><tag>.csv``).
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
ALANINE_PDB = REPO / "data" / "structures" / "alanine-dipeptide-explicit.pdb"  # provenance: its README.md
MODELS = [("range-schnet", 5.0), ("schnet", 5.0), ("schnet", 7.0), ("schnet", 9.0), ("schnet", 12.0)]
BACKENDS = ("torchforce", "python")
TIMESTEP_FS = 2.0
#: ``cudaGraphs`` passed to createSystem (None: not passed, the plugin's default) -> its label in the results.
GRAPH_LABELS = {None: "default", True: "on", False: "off"}
GRAPH_CHOICES = {"default": [None], "on": [True], "off": [False], "both": [True, False]}


def make_models(directory: Path, hidden: int, heads: int, models=MODELS) -> Dict[tuple, Path]:
    """Untrained models of equal width, saved to ``directory``: ``models`` is (name, cutoff Å) pairs."""
    import openmm_range

    paths = {}
    for name, cutoff in models:
        torch.manual_seed(0)
        model = openmm_range.create_model(name, cutoff=cutoff, hidden_channels=hidden, num_heads=heads,
                                          elements=[1, 6, 7, 8])
        paths[(name, cutoff)] = directory / f"{name}-{cutoff:g}.pt"
        openmm_range.save_model(model, paths[(name, cutoff)])
    return paths


def build(system_name: str, name: str, path: Path, backend: str, cuda_graphs=None):
    """(topology, positions, System) for one configuration; ``cuda_graphs`` None: the plugin's default."""
    from openmmml import MLPotential

    potential = MLPotential(name, modelPath=str(path))
    options = {} if cuda_graphs is None else {"cudaGraphs": bool(cuda_graphs)}
    if system_name == "dha-vacuum":
        pdb = app.PDBFile(str(DHA_PDB))
        return pdb, potential.createSystem(pdb.topology, backend=backend, **options), pdb.topology.getNumAtoms()
    pdb = app.PDBFile(str(ALANINE_PDB))
    mm = app.ForceField("amber19-all.xml", "amber19/tip3pfb.xml").createSystem(
        pdb.topology, nonbondedMethod=app.PME, constraints=app.HBonds)
    ml_atoms = [a.index for a in pdb.topology.atoms() if a.residue.chain.index == 0]
    system = potential.createMixedSystem(pdb.topology, mm, ml_atoms, removeConstraints=False, backend=backend, **options)
    return pdb, system, len(ml_atoms)


class Run:
    """One live simulation: a configuration and its timings (ms/step)."""

    def __init__(self, platform: str, system_name: str, name: str, cutoff: float, backend: str, path: Path,
                 cuda_graphs=None):
        from openmm_range.openmm.simulation import backend_in_use

        self.key = dict(platform=platform, system=system_name, model=name, cutoff_A=cutoff, backend=backend,
                        cuda_graphs=GRAPH_LABELS[cuda_graphs])
        pdb, system, self.n_ml = build(system_name, name, path, backend, cuda_graphs)
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
            # wait for the platform to finish; positions only (getEnergy would run the model once more)
            self.context.getState(getPositions=True)
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
    """The target check per (system, backend, CUDA graphs): range 5 Å vs schnet 5 Å and 12 Å step times."""
    lines = []
    by = {(r["system"], r["backend"], r["cuda_graphs"], r["model"], r["cutoff_A"]): r["median_ms_per_step"]
          for r in rows}
    for system_name in sorted({r["system"] for r in rows}):
        for backend in BACKENDS:
            for graphs in GRAPH_LABELS.values():
                rng = by.get((system_name, backend, graphs, "range-schnet", 5.0))
                s5 = by.get((system_name, backend, graphs, "schnet", 5.0))
                s12 = by.get((system_name, backend, graphs, "schnet", 12.0))
                if None in (rng, s5) or any(v != v for v in (rng, s5)):
                    continue
                r5 = rng / s5
                r12 = "n/a" if s12 is None or s12 != s12 else \
                    f"{rng / s12:.2f} ({'met' if rng / s12 <= 0.8 else 'MISSED'})"
                lines.append(f"| {system_name} | {backend} | {graphs} | {r5:.2f} "
                             f"({'met' if r5 <= 1.25 else 'MISSED'}) | {r12} |")
    return lines


def write_results(platform: str, rows: List[Dict], args) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / f"md_throughput_{platform}{args.tag}.csv"
    tmp = csv_path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(csv_path)
    md = [f"# MD throughput on the OpenMM {platform} platform", "",
          f"LangevinMiddle, {TIMESTEP_FS:g} fs; untrained models of width {args.hidden} ({args.heads} RANGE heads); median of "
          f"{args.repeats} runs of {args.steps} steps after {args.warmup} warm-up steps; torch threads "
          f"{args.threads}; all configurations side by side in one process.", "",
          "| system | model | cutoff (Å) | backend | CUDA graphs | ms/step | ns/day |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        note = f" (failed: {r['error']})" if r["error"] else ""
        md.append(f"| {r['system']} | {r['model']} | {r['cutoff_A']:g} | {r['backend']} | {r['cuda_graphs']} | "
                  f"{r['median_ms_per_step']} | {r['ns_per_day']}{note} |")
    md += ["", "Targets: range-schnet 5 Å step time <= 1.25 x schnet 5 Å and <= 0.8 x schnet 12 Å.", "",
           "| system | backend | CUDA graphs | range5 / schnet5 | range5 / schnet12 |", "|---|---|---|---|---|"]
    md += target_lines(rows)
    md_path = out / f"md_throughput_{platform}{args.tag}.md"
    md_path.with_suffix(".md.tmp").write_text("\n".join(md) + "\n")
    md_path.with_suffix(".md.tmp").replace(md_path)
    print("\n".join(md))
    print(f"wrote {csv_path}")


def parse_model(text: str):
    """``NAME:CUTOFF`` (e.g. ``range-schnet:5``) -> (name, cutoff Å), one of MODELS."""
    name, _, cutoff = text.partition(":")
    try:
        model = (name, float(cutoff))
    except ValueError:
        model = None
    if model not in MODELS:
        accepted = " ".join(f"{n}:{c:g}" for n, c in MODELS)
        raise argparse.ArgumentTypeError(f"{text!r} is not one of the benchmark models; accepted: {accepted}")
    return model


def main(argv=None) -> int:
    from openmm_range.openmm.backends import torchforce_status
    from openmm_range.openmm.simulation import available_platforms

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=50, help="steps per timed run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per configuration (median reported)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps first (TorchScript warm-up)")
    parser.add_argument("--platforms", nargs="+", default=None, help="default: every platform present")
    parser.add_argument("--systems", nargs="+", choices=["dha-vacuum", "alanine-water"],
                        default=["dha-vacuum", "alanine-water"])
    parser.add_argument("--width", "--hidden", dest="hidden", type=int, default=128,
                        help="width of every model (default 128)")
    parser.add_argument("--heads", type=int, default=16, help="RANGE attention heads (default 16)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=None,
                        help="default: both where openmmtorch works, else python")
    parser.add_argument("--cuda-graphs", choices=sorted(GRAPH_CHOICES), default="default",
                        help="cudaGraphs of createSystem: not passed (default), on, off, or both side by side")
    parser.add_argument("--models", nargs="+", type=parse_model, default=MODELS, metavar="NAME:CUTOFF",
                        help="default: " + " ".join(f"{n}:{c:g}" for n, c in MODELS))
    parser.add_argument("--out", default=str(RESULTS), help="folder of the result files (default benchmarks/results)")
    parser.add_argument("--tag", default="", help="suffix of the result file names, e.g. _w64")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    present = available_platforms()
    missing = [p for p in args.platforms or [] if p not in present]
    if missing:
        parser.error(f"--platforms: {' '.join(missing)} not available here; available: {' '.join(present)}")
    platforms = args.platforms or [p for p in present if p in ("CUDA", "HIP", "CPU", "Reference")]
    backends = args.backends
    if backends is None or "torchforce" in backends:  # the probe only when TorchForce may run
        usable, reason = torchforce_status()
        if backends and not usable:
            parser.error(f"--backends: torchforce is not usable here ({reason}); use --backends python")
        backends = backends or [b for b in BACKENDS if b == "python" or usable]
    models = list(dict.fromkeys(args.models))
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_models(Path(tmp), args.hidden, args.heads, models)
        for platform in platforms:
            runs = [Run(platform, system_name, name, cutoff, backend, paths[(name, cutoff)], graphs)
                    for system_name in args.systems for name, cutoff in models for backend in backends
                    for graphs in GRAPH_CHOICES[args.cuda_graphs]]
            for run in runs:
                run.step(args.warmup, record=False)
            for _ in range(args.repeats):
                for run in runs:
                    run.step(args.steps, record=True)
            write_results(platform, [run.row(args.hidden, args.threads) for run in runs], args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
