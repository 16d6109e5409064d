"""Running a Langevin simulation with a RANGE potential (the engine behind ``openmm-range simulate``).

Units: temperature in K, time step in fs, friction in 1/ps, energies in kJ/mol.
"""
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import openmm
import openmm.app as app
import openmm.unit as unit

logger = logging.getLogger("openmm_range.openmm")

#: Platform preference for ``platform='auto'``: fastest first. OpenCL is left out on
#: purpose: on CPU-only machines it is often a slow CPU emulation.
AUTO_PLATFORMS = ("CUDA", "HIP", "CPU", "Reference")
#: Force names given by the two backends (openmm.Force.getName()).
BACKEND_FORCE_NAMES = {"RANGE TorchForce": "torchforce", "RANGE PythonForce": "python"}


def available_platforms() -> List[str]:
    """Names of the OpenMM platforms installed here."""
    return [openmm.Platform.getPlatform(i).getName() for i in range(openmm.Platform.getNumPlatforms())]


def auto_platform_name(present: Sequence[str]) -> str:
    """The platform ``'auto'`` means among the platform names ``present``: the first of AUTO_PLATFORMS.

    CUDA whenever it is present (OpenMM's CUDA plugin loaded, e.g. from the ``cuda12`` extra),
    else HIP, else CPU, else Reference. Raises ValueError if none of them is present.
    """
    for candidate in AUTO_PLATFORMS:
        if candidate in present:
            return candidate
    raise ValueError(f"platform 'auto' found none of {', '.join(AUTO_PLATFORMS)}; available: {', '.join(present)}")


def select_platform(name: str) -> openmm.Platform:
    """The OpenMM platform ``name``, or the fastest available one for ``'auto'`` (logged)."""
    present = available_platforms()
    if name == "auto":
        chosen = auto_platform_name(present)
        logger.info("platform auto: using %s (available: %s)", chosen, ", ".join(present))
        return openmm.Platform.getPlatformByName(chosen)
    if name not in present:
        raise ValueError(f"platform {name!r} is not available here; available: auto, {', '.join(present)}")
    return openmm.Platform.getPlatformByName(name)


def backend_in_use(system: openmm.System) -> str:
    """``'torchforce'``, ``'python'`` or ``'none'``: which RANGE backend ``system`` ended up with.

    A PythonForce nested in a CustomCVForce (interpolation) also counts as ``'python'``.
    """
    for force in system.getForces():
        if force.getName() in BACKEND_FORCE_NAMES:
            return BACKEND_FORCE_NAMES[force.getName()]
        if isinstance(force, openmm.CustomCVForce):
            for k in range(force.getNumCollectiveVariables()):
                if force.getCollectiveVariable(k).getName() in BACKEND_FORCE_NAMES:
                    return BACKEND_FORCE_NAMES[force.getCollectiveVariable(k).getName()]
    return "none"


@dataclass
class SimulationConfig:
    """Everything ``openmm-range simulate`` needs. Lengths nm, time fs/ps, temperature K."""

    pdb: Path
    model: str
    model_path: Optional[Path] = None
    temperature: float = 300.0  # K
    # None: 1 fs when X-H bonds move freely, 2 fs when they are constrained (constraints="hbonds", ML/MM)
    timestep_fs: Optional[float] = None
    friction_per_ps: float = 1.0
    steps: int = 1000
    platform: str = "auto"
    backend: str = "auto"
    precision: Optional[str] = None
    charge: int = 0  # total charge of the ML region, e (openmm-ml's createSystem argument)
    minimize: bool = True
    report_interval: int = 100
    dcd: Optional[Path] = None
    csv: Optional[Path] = None
    seed: Optional[int] = None
    ml_chain: Optional[int] = None  # None: the whole PDB is ML; else ML/MM with this chain as ML
    mm_forcefield: Sequence[str] = field(default_factory=lambda: ("amber19-all.xml", "amber19/tip3pfb.xml"))
    progress: bool = True
    # stop when a bond of the ML region leaves its minimised length by more than this (Å); 0/None: off
    max_bond_stretch: Optional[float] = 0.5
    # write a checkpoint here every checkpoint_interval steps (a multiple of report_interval) and at the end
    checkpoint: Optional[Path] = None
    checkpoint_interval: int = 10000
    # continue from ``checkpoint`` if it exists (else start afresh); ``steps`` counts from the run's start
    resume: bool = False
    # "hbonds": X-H bonds of an all-ML system held at their minimised lengths; None/"none": free. ML/MM
    # runs always constrain X-H bonds, the ML region's included (the MM force field's HBonds, kept by
    # createMixedSystem(removeConstraints=False)), so "none" is refused for them and "hbonds" adds nothing
    constraints: Optional[str] = None
    # replace an existing, non-empty DCD or CSV when the run starts afresh (else that is refused)
    overwrite: bool = False

    @property
    def constrains_hbonds(self) -> bool:
        """Whether the run's X-H bonds are constrained (ML/MM runs always are)."""
        return self.constraints == "hbonds" or self.ml_chain is not None

    @property
    def adds_hbond_constraints(self) -> bool:
        """Whether the run adds X-H constraints at the minimised lengths itself (all-ML runs with
        constraints="hbonds"; an ML/MM System has them from the MM force field already)."""
        return self.constraints == "hbonds" and self.ml_chain is None

    def check(self) -> None:
        """Raise ValueError naming the first bad setting; fills in the default time step."""
        if Path(self.pdb).is_dir():
            raise ValueError(f"PDB file {str(self.pdb)!r} is a directory: give the structure's PDB file")
        if not Path(self.pdb).is_file():
            raise FileNotFoundError(f"PDB file {str(self.pdb)!r} does not exist")
        if self.constraints not in CONSTRAINTS:
            raise ValueError(f"constraints must be one of {[c for c in CONSTRAINTS if c]}, got {self.constraints!r}")
        if self.constraints == "none":
            if self.ml_chain is not None:
                raise ValueError("constraints='none' is not possible with ml_chain: ML/MM runs constrain X-H bonds "
                                 "through the MM force field (HBonds)")
            self.constraints = None
        if self.timestep_fs is None:
            self.timestep_fs = 2.0 if self.constrains_hbonds else 1.0
        for key, value in (("temperature", self.temperature), ("timestep_fs", self.timestep_fs),
                           ("friction_per_ps", self.friction_per_ps)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{key} must be a positive number, got {value!r}")
        if self.steps < 0:
            raise ValueError(f"steps must be >= 0, got {self.steps}")
        if self.seed is not None and (isinstance(self.seed, bool) or not 1 <= self.seed <= 2**31 - 1):
            raise ValueError(f"seed must be a whole number from 1 to {2**31 - 1}, got {self.seed!r} (OpenMM takes 0 "
                             f"as 'choose a random seed', so a run with seed 0 could not be repeated)")
        if self.report_interval < 1:
            raise ValueError(f"report_interval must be >= 1, got {self.report_interval}")
        if self.resume and self.checkpoint is None:
            raise ValueError("resume needs a checkpoint file (--checkpoint FILE)")
        if self.checkpoint is not None:
            if self.checkpoint_interval < 1 or self.checkpoint_interval % self.report_interval:
                raise ValueError(f"checkpoint_interval must be a positive multiple of report_interval "
                                 f"({self.report_interval}), got {self.checkpoint_interval}")
            self.check_checkpoint_path()
            if Path(self.checkpoint).exists() and not self.resume:
                raise ValueError(f"checkpoint {self.checkpoint} exists: pass --resume (resume=True) to continue "
                                 f"that run, or remove the file to start a new one")
        if self.max_bond_stretch is not None and not (math.isfinite(self.max_bond_stretch) and self.max_bond_stretch >= 0):
            raise ValueError(f"max_bond_stretch must be >= 0 Å (0 turns the check off), got {self.max_bond_stretch!r}")
        self.check_outputs()

    def check_outputs(self) -> None:
        """ValueError for a DCD or CSV output that would come out empty (fewer steps than
        ``report_interval``), that is a directory, or that exists, is not empty and would be
        replaced (a fresh start without ``overwrite``; a resumed run appends instead)."""
        outputs = [(name, Path(path)) for name, path in (("dcd", self.dcd), ("csv", self.csv)) if path is not None]
        if len(outputs) == 2 and outputs[0][1].resolve() == outputs[1][1].resolve():
            raise ValueError(f"dcd and csv are the same file ({str(self.dcd)!r}): give each a path of its own")
        if outputs and self.steps < self.report_interval:
            raise ValueError(f"steps ({self.steps}) is below report_interval ({self.report_interval}): the "
                             f"{' and '.join(n.upper() for n, _ in outputs)} would get no frame; lower "
                             f"--report-interval or raise --steps")
        fresh = not (self.resume and self.checkpoint is not None and Path(self.checkpoint).is_file())
        for name, path in outputs:
            if path.is_dir():
                raise ValueError(f"{name} {str(path)!r} is a directory: give a file path")
            if fresh and not self.overwrite and path.is_file() and path.stat().st_size > 0:
                raise ValueError(f"{name} file {str(path)!r} exists and this run would replace it: pass "
                                 f"--overwrite (overwrite=True), or give another path (a run with --checkpoint "
                                 f"and --resume appends to its files instead)")

    def check_checkpoint_path(self, **others: Optional[Path]) -> None:
        """ValueError if ``checkpoint`` is the same file as the PDB, the model, the DCD, the CSV or
        one of ``others`` (name=path, e.g. the CLI's json): one would overwrite the other."""
        target = Path(self.checkpoint).resolve()
        if target.is_dir():
            raise ValueError(f"checkpoint {str(self.checkpoint)!r} is a directory: give a file path (e.g. run.chk)")
        named = {"pdb": self.pdb, "model_path": self.model_path, "dcd": self.dcd, "csv": self.csv, **others}
        for key, path in named.items():
            if path is not None and Path(path).resolve() == target:
                raise ValueError(f"checkpoint {str(self.checkpoint)!r} is the same file as {key}: give the "
                                 f"checkpoint a path of its own (e.g. run.chk)")


#: accepted values of SimulationConfig.constraints (None and "none" mean free bonds)
CONSTRAINTS = (None, "none", "hbonds")
#: above this step (fs) free X-H bonds are a known risk: 2 fs runs of the shipped default lost a
#: hydrogen in 5 of 8 DHA runs of 100 ps (docs/reproduction.md, "Dynamics")
FREE_HBONDS_MAX_STEP_FS = 1.0


def hbond_pairs(topology: app.Topology) -> np.ndarray:
    """(B, 2) atom indices of the topology's bonds between a hydrogen and an atom of another element."""
    bonds = ml_bonds(topology)
    symbols = np.array([a.element.symbol if a.element is not None else "" for a in topology.atoms()], dtype=object)
    first, second = symbols[bonds[:, 0]], symbols[bonds[:, 1]]
    return bonds[(first != "") & (second != "") & ((first == "H") != (second == "H"))]


def _checked_constraints(saved, n_atoms: int, path: Path) -> Tuple[np.ndarray, np.ndarray]:
    """The (B, 2) pairs and (B,) lengths (nm) a checkpoint holds; ValueError naming the file if malformed."""
    try:
        pairs = np.asarray(saved["pairs"], dtype=np.int64).reshape(-1, 2)
        lengths = np.asarray(saved["lengths_nm"], dtype=float).reshape(-1)
    except (TypeError, KeyError, ValueError) as exc:
        raise ValueError(f"cannot resume from {path}: it holds no valid constraint list ({exc})") from exc
    if (len(pairs) != len(lengths) or not len(pairs) or pairs.min() < 0 or pairs.max() >= n_atoms
            or not (np.isfinite(lengths) & (lengths > 0)).all()):
        raise ValueError(f"cannot resume from {path}: its constraint list does not fit this system "
                         f"({len(pairs)} pairs of {n_atoms} atoms, {len(lengths)} positive lengths expected)")
    return pairs, lengths


def add_constraints(system: openmm.System, pairs: np.ndarray, lengths_nm: np.ndarray) -> None:
    """Constrain each atom pair (B, 2) of ``system`` to its length (B,) in nm."""
    for (i, j), length in zip(pairs.tolist(), lengths_nm.tolist()):
        system.addConstraint(int(i), int(j), float(length) * unit.nanometer)


def constrain_hbonds(system: openmm.System, topology: app.Topology, positions) -> Dict[str, list]:
    """Hold every bond to hydrogen of ``topology`` at its length in ``positions`` (N, 3) nm
    (e.g. after minimisation), as OpenMM's ``constraints=HBonds`` does for a force field; call it
    before the Context is made, or call ``context.reinitialize(preserveState=True)`` after.
    Returns ``{"pairs": [[i, j], ...], "lengths_nm": [...]}``. ValueError if there is no such bond."""
    pairs = hbond_pairs(topology)
    if not len(pairs):
        raise ValueError("constraints='hbonds': the topology has no bonds to hydrogen (a PDB needs CONECT records "
                         "for non-standard residues)")
    xyz = np.asarray(positions.value_in_unit(unit.nanometer) if unit.is_quantity(positions) else positions, dtype=float)
    lengths = np.linalg.norm(xyz[pairs[:, 0]] - xyz[pairs[:, 1]], axis=1)
    add_constraints(system, pairs, lengths)
    return {"pairs": pairs.tolist(), "lengths_nm": lengths.tolist()}


def bond_lengths(system: openmm.System, state: openmm.State, bonds: np.ndarray) -> np.ndarray:
    """Lengths (B,) nm of the atom pairs ``bonds`` (B, 2) in ``state``; minimum-image in a periodic
    system (a structure wrapped atom by atom into its box has bonds across the box faces)."""
    pos = state.getPositions(asNumpy=True).value_in_unit(unit.nanometer)
    vec = pos[bonds[:, 0]] - pos[bonds[:, 1]]
    if system.usesPeriodicBoundaryConditions():
        box = state.getPeriodicBoxVectors(asNumpy=True).value_in_unit(unit.nanometer)
        for k in (2, 1, 0):  # reduced triclinic box (OpenMM's): c, then b, then a
            vec = vec - np.round(vec[:, k] / box[k, k])[:, None] * box[k]
    return np.linalg.norm(vec, axis=1)


def largest_bond_change(system: openmm.System, state: openmm.State, bonds: np.ndarray,
                        reference: np.ndarray) -> Tuple[int, float]:
    """(row of ``bonds``, change in nm) of the bond whose length in ``state`` is farthest from ``reference`` (B,) nm."""
    change = np.abs(bond_lengths(system, state, bonds) - reference)
    k = int(np.argmax(change))
    return k, float(change[k])


class BondBrokenError(RuntimeError):
    """A bond of the ML region stretched beyond the limit: the model has left the region it was trained on.

    Raised out of :func:`run_simulation` with ``steps_run`` (MD steps of that call up to the
    report that found it) and ``wall_s`` (their wall time, s, as the summary's ``ns_per_day`` counts it)."""

    steps_run: Optional[int] = None
    wall_s: Optional[float] = None


def ml_bonds(topology: app.Topology, ml_atoms: Optional[Sequence[int]] = None) -> np.ndarray:
    """(B, 2) atom indices of the topology's bonds with both atoms in ``ml_atoms`` (None: all atoms)."""
    keep = None if ml_atoms is None else set(ml_atoms)
    pairs = [(b[0].index, b[1].index) for b in topology.bonds()
             if keep is None or (b[0].index in keep and b[1].index in keep)]
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def ml_chain_atoms(topology: app.Topology, ml_chain: Optional[int]) -> Optional[List[int]]:
    """Atom indices of chain ``ml_chain`` (the ML region of an ML/MM run); None when ``ml_chain`` is None."""
    if ml_chain is None:
        return None
    chains = list(topology.chains())
    if not 0 <= ml_chain < len(chains):
        raise ValueError(f"ml_chain {ml_chain} does not exist; the PDB has chains 0..{len(chains) - 1}")
    return [atom.index for atom in chains[ml_chain].atoms()]


def build_system(config: SimulationConfig, topology: app.Topology) -> openmm.System:
    """The System for ``config``: all-ML, or ML/MM with chain ``config.ml_chain`` as the ML region."""
    from openmmml import MLPotential

    potential = MLPotential(config.model, modelPath=str(config.model_path) if config.model_path else None)
    options = {"backend": config.backend, "precision": config.precision, "charge": config.charge}
    if config.ml_chain is None:
        return potential.createSystem(topology, **options)
    ml_atoms = ml_chain_atoms(topology, config.ml_chain)
    forcefield = app.ForceField(*config.mm_forcefield)
    periodic = topology.getPeriodicBoxVectors() is not None
    mm_system = forcefield.createSystem(topology, nonbondedMethod=app.PME if periodic else app.NoCutoff,
                                        constraints=app.HBonds)
    # keep the force field's X-H constraints inside the ML region too (openmm-ml removes them by
    # default): the default 2 fs step of an ML/MM run needs them (free X-H bonds at 2 fs lose hydrogens)
    system = potential.createMixedSystem(topology, mm_system, ml_atoms, removeConstraints=False, **options)
    added = system.getNumParticles() - topology.getNumAtoms()
    if added:  # openmm-ml caps bonds that cross the ML/MM boundary with link atoms
        ml = set(ml_atoms)
        crossing = sorted({(a.index, b.index) for a, b in topology.bonds() if (a.index in ml) != (b.index in ml)})
        raise ValueError(f"ml_chain {config.ml_chain} is bonded to atoms outside it ({len(crossing)} bond(s), e.g. "
                         f"atoms {crossing[0] if crossing else '?'}): openmm-ml added {added} link atom(s), which "
                         f"simulate does not place yet. Choose a chain without bonds to other chains, or build the "
                         f"system in Python with createMixedSystem(..., returnInfo=True) and its 'topology'")
    return system


def degrees_of_freedom(system: openmm.System) -> int:
    """3 per massive particle, minus constraints, minus 3 if a CMMotionRemover is present."""
    dof = 3 * sum(1 for i in range(system.getNumParticles()) if system.getParticleMass(i) > 0 * unit.dalton)
    for k in range(system.getNumConstraints()):
        p1, p2, _ = system.getConstraintParameters(k)
        if system.getParticleMass(p1) > 0 * unit.dalton or system.getParticleMass(p2) > 0 * unit.dalton:
            dof -= 1
    if any(isinstance(f, openmm.CMMotionRemover) for f in system.getForces()):
        dof -= 3
    return max(dof, 1)


class ProgressReporter:
    """An OpenMM reporter that drives a tqdm bar showing ns/day and keeps running statistics."""

    def __init__(self, interval: int, total_steps: int, timestep_fs: float, dof: int, show: bool,
                 bond_watch: Optional[Tuple[app.Topology, np.ndarray, np.ndarray, float]] = None,
                 start_step: int = 0):
        """``total_steps``: the steps of this call, from ``start_step`` (a resumed run's checkpoint);
        ``bond_watch``: (topology, bonds (B, 2), reference lengths (B,) nm, limit nm) or None."""
        self.interval = interval
        self.first_step = start_step
        self.bond_watch = bond_watch
        self._stop: Optional[BondBrokenError] = None
        self.timestep_fs = timestep_fs
        self.dof = dof
        self.temperatures: List[float] = []
        self.last_energy = float("nan")
        self._start_wall = time.perf_counter()
        self._bar = None
        if show:
            from tqdm import tqdm

            self._bar = tqdm(total=total_steps, unit="step", dynamic_ncols=True)

    def describeNextReport(self, simulation: app.Simulation) -> Dict:
        if self._stop is not None:  # raised here, after every reporter has written the step that broke
            raise self._stop
        steps = self.interval - simulation.currentStep % self.interval
        # periodic None: OpenMM wraps whole molecules, so bonds stay intact; and this reporter then runs
        # after the DCD/CSV reporters of the same step, whose frames are kept when it stops the run
        return {"steps": steps, "periodic": None,
                "include": ["energy", "positions"] if self.bond_watch else ["energy"]}

    @property
    def stopping(self) -> bool:
        """True once a bond has broken: the run ends at the next report."""
        return self._stop is not None

    @property
    def stop_error(self) -> Optional[BondBrokenError]:
        """The error that ends the run (None while every bond holds)."""
        return self._stop

    def ns_per_day(self, step: int) -> float:
        done = step - self.first_step
        wall = time.perf_counter() - self._start_wall
        return done * self.timestep_fs * 1e-6 / (wall / 86400.0) if wall > 0 else float("nan")

    def report(self, simulation: app.Simulation, state: openmm.State) -> None:
        kinetic = state.getKineticEnergy().value_in_unit(unit.kilojoule_per_mole)
        kelvin = 2.0 * kinetic / (self.dof * unit.MOLAR_GAS_CONSTANT_R.value_in_unit(
            unit.kilojoule_per_mole / unit.kelvin))
        self.temperatures.append(kelvin)
        self.check(simulation, state)
        if self._bar is not None:
            self._bar.n = simulation.currentStep - self.first_step
            self._bar.set_postfix({"ns/day": f"{self.ns_per_day(simulation.currentStep):.2f}",
                                   "T/K": f"{kelvin:.0f}"}, refresh=True)

    def check(self, simulation: app.Simulation, state: openmm.State) -> None:
        """RuntimeError if the energy of ``state`` is not finite; a broken bond is recorded (the run
        then stops: :attr:`stop_error`). ``state`` holds the energy (and positions with the bond guard)."""
        self.last_energy = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
        if not math.isfinite(self.last_energy):
            raise RuntimeError(f"the potential energy became {self.last_energy} at step {simulation.currentStep}: "
                               f"the simulation is unstable (try a smaller time step or minimisation)")
        if self.bond_watch is not None:
            self._check_bonds(simulation, state)

    def _check_bonds(self, simulation: app.Simulation, state: openmm.State) -> None:
        topology, bonds, reference, limit = self.bond_watch
        k, stretch = largest_bond_change(simulation.system, state, bonds, reference)
        if stretch > limit:
            atoms = list(topology.atoms())
            a, b = (atoms[int(i)] for i in bonds[k])
            self._stop = BondBrokenError(
                f"bond {a.residue.name}{a.residue.id}:{a.name}-{b.name} changed by {stretch * 10:.2f} Å from its "
                f"minimised length at step {simulation.currentStep} "
                f"({simulation.currentStep * self.timestep_fs / 1000:.3f} ps), more than the limit "
                f"{limit * 10:g} Å: the model has left the region it was trained on and the trajectory is no longer "
                f"meaningful (frames written so far are kept). Use a better-trained model, or --max-bond-stretch 0 "
                f"to turn this check off")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def run_settings(config: SimulationConfig, n_atoms: int, backend: str) -> Dict[str, object]:
    """What a resumed run must share with the checkpoint it continues (not the platform: a
    checkpoint moves between platforms through its portable state)."""
    from .md_checkpoint import sha256
    from .model_files import resolve_model_file

    model_file = resolve_model_file(config.model, str(config.model_path) if config.model_path else None)
    return {"pdb_sha256": sha256(Path(config.pdb)), "atoms": n_atoms, "model": config.model,
            "model_file_sha256": sha256(Path(model_file)), "temperature_k": config.temperature,
            "timestep_fs": config.timestep_fs, "friction_per_ps": config.friction_per_ps,
            "report_interval": config.report_interval, "charge": config.charge, "precision": config.precision,
            "backend": backend, "ml_chain": config.ml_chain, "constraints": config.constraints,
            "mm_forcefield": list(config.mm_forcefield) if config.ml_chain is not None else None}


class CheckpointWriter:
    """An OpenMM reporter that writes the run's checkpoint every ``interval`` steps, after the
    DCD/CSV reporters of that step (it is appended after them), unless the run is stopping."""

    def __init__(self, path: Path, interval: int, settings: Dict, reference: Optional[np.ndarray],
                 progress: "ProgressReporter", constraints: Optional[Dict[str, list]] = None):
        self.path, self.interval, self.settings, self.reference = Path(path), interval, settings, reference
        self.progress, self.constraints = progress, constraints
        self.last_step: Optional[int] = None

    def describeNextReport(self, simulation: app.Simulation) -> Dict:
        return {"steps": self.interval - simulation.currentStep % self.interval, "periodic": None, "include": []}

    def report(self, simulation: app.Simulation, state: openmm.State) -> None:
        if not self.progress.stopping:
            self.write(simulation)

    def write(self, simulation: app.Simulation) -> None:
        from .md_checkpoint import write_checkpoint

        # the DCD/CSV frames this checkpoint counts on reach the disk first (a machine that stops
        # right after would otherwise leave files shorter than the checkpoint, which resume refuses)
        for reporter in simulation.reporters:
            handle = getattr(reporter, "_out", None)  # OpenMM's DCD and StateData reporters' open file
            try:
                handle.flush()
                os.fsync(handle.fileno())
            except (AttributeError, OSError, ValueError):  # not a file reporter, or no fsync here
                pass
        write_checkpoint(self.path, simulation.context, simulation.currentStep, self.settings, self.reference,
                         self.constraints)
        self.last_step = simulation.currentStep


def read_pdb(path: Path) -> app.PDBFile:
    """``app.PDBFile(path)``, with a ValueError naming the file when it holds no atoms or is no PDB."""
    with open(path, errors="replace") as handle:
        if not any(line.startswith(("ATOM", "HETATM")) for line in handle):
            raise ValueError(f"{str(path)!r} holds no ATOM or HETATM records: give a PDB file of the structure")
    try:
        pdb = app.PDBFile(str(path))
    except (AttributeError, IndexError, KeyError, ValueError, UnicodeDecodeError) as exc:  # OpenMM's parser
        raise ValueError(f"cannot read {str(path)!r} as a PDB file ({type(exc).__name__}: {exc})") from None
    return pdb


def run_simulation(config: SimulationConfig) -> Dict[str, object]:
    """Run the simulation described by ``config``; returns the summary (also logged).

    With ``config.checkpoint`` the run writes a checkpoint every ``checkpoint_interval`` steps
    and at its end; with ``config.resume`` it continues from that checkpoint (if present) up to
    ``config.steps`` steps in all, cutting the DCD and CSV files back to the checkpoint's step
    and appending to them (md_checkpoint.py).

    Summary keys: steps (of the whole run), steps_run (by this call), resumed_from_step (None
    for a fresh start), resume_exact (None, or whether the binary checkpoint was loaded),
    simulated_ps (by this call), wall_s, ns_per_day, platform, backend, final_potential_kj_mol,
    mean_temperature_k, dcd, csv, checkpoint.
    """
    from . import md_checkpoint

    config.check()
    if not config.constrains_hbonds and config.timestep_fs > FREE_HBONDS_MAX_STEP_FS:
        logger.warning("a %g fs step with free X-H bonds: 2 fs runs of DHA with the shipped default lost a hydrogen "
                       "in 5 of 8 runs of 100 ps; use 1 fs, or constraints='hbonds' (--constraints hbonds) for 2 fs",
                       config.timestep_fs)
    platform = select_platform(config.platform)
    pdb = read_pdb(Path(config.pdb))
    system = build_system(config, pdb.topology)
    backend = backend_in_use(system)
    settings = run_settings(config, pdb.topology.getNumAtoms(), backend) if config.checkpoint else None
    saved = None
    if config.checkpoint and Path(config.checkpoint).exists():  # and resume (check() refuses it otherwise)
        saved = md_checkpoint.read_checkpoint(Path(config.checkpoint))
        md_checkpoint.check_settings(Path(config.checkpoint), saved["meta"]["settings"], settings)
    constrained = None  # {"pairs": (B, 2), "lengths_nm": (B,)} of constraints="hbonds", once known
    if config.adds_hbond_constraints and saved is not None:
        constrained = saved["meta"].get("constraints")
        pairs, lengths = _checked_constraints(constrained, system.getNumParticles(), Path(config.checkpoint))
        add_constraints(system, pairs, lengths)
    dt = config.timestep_fs * unit.femtoseconds
    integrator = openmm.LangevinMiddleIntegrator(config.temperature * unit.kelvin,
                                                 config.friction_per_ps / unit.picosecond, dt)
    if config.seed is not None:
        # a resumed run draws from a seed of (seed, step): the binary checkpoint then restores the
        # generator's state anyway, and a resume from the portable state does not replay the
        # random numbers the run started with
        step_seed = 0 if saved is None else int(saved["meta"]["step"])
        integrator.setRandomNumberSeed(1 + (int(config.seed) - 1 + 1_000_003 * step_seed) % (2**31 - 2)
                                       if step_seed else int(config.seed))
    simulation = app.Simulation(pdb.topology, system, integrator, platform)
    start_step, exact = 0, None
    if saved is not None:
        start_step = saved["meta"]["step"]
        exact = md_checkpoint.restore(simulation.context, saved)
        simulation.currentStep = start_step
        logger.info("resumed %s at step %d (%s)", config.checkpoint, start_step,
                    "exactly" if exact else "from its portable state: the binary checkpoint is from another "
                    "platform or OpenMM version, so the thermostat's random numbers differ from an uninterrupted run")
        frames = start_step // config.report_interval
        for path, cut in ((config.dcd, md_checkpoint.truncate_dcd), (config.csv, md_checkpoint.truncate_csv)):
            if path and frames == 0:  # nothing written before the checkpoint: the files start again
                Path(path).unlink(missing_ok=True)
            elif path and not Path(path).exists():
                raise ValueError(f"cannot resume: {path} does not exist, and a resumed run appends to the file "
                                 f"that the run wrote up to step {start_step}; give that file, or start a new run "
                                 f"with another checkpoint file")
            elif path:
                cut(Path(path), frames)
    else:
        if config.resume:
            logger.info("no checkpoint %s yet: starting the run", config.checkpoint)
        simulation.context.setPositions(pdb.positions)
        if config.minimize:
            simulation.minimizeEnergy()
        if config.adds_hbond_constraints:  # X-H bonds held at their minimised lengths from here on
            xyz = simulation.context.getState(getPositions=True).getPositions(asNumpy=True)
            constrained = constrain_hbonds(system, pdb.topology, xyz)
            simulation.context.reinitialize(preserveState=True)
        if config.seed is not None:
            simulation.context.setVelocitiesToTemperature(config.temperature * unit.kelvin, int(config.seed))
        else:
            simulation.context.setVelocitiesToTemperature(config.temperature * unit.kelvin)
    append = saved is not None and start_step // config.report_interval > 0
    if config.dcd:
        Path(config.dcd).parent.mkdir(parents=True, exist_ok=True)
        simulation.reporters.append(app.DCDReporter(str(config.dcd), config.report_interval, append=append))
    if config.csv:
        Path(config.csv).parent.mkdir(parents=True, exist_ok=True)
        simulation.reporters.append(app.StateDataReporter(
            str(config.csv), config.report_interval, step=True, time=True, potentialEnergy=True,
            kineticEnergy=True, totalEnergy=True, temperature=True, speed=True, append=append))
    # the ML bonds' lengths at the start of the run (after minimisation), kept in every checkpoint
    # whether or not the guard is on, so that a resumed run measures stretches from them
    bond_watch, reference = None, None
    bonds = ml_bonds(pdb.topology, ml_chain_atoms(pdb.topology, config.ml_chain))
    if len(bonds):
        if saved is not None and saved["meta"].get("bond_reference_nm") is not None:
            reference = np.asarray(saved["meta"]["bond_reference_nm"], dtype=float)
        else:
            if saved is not None and config.max_bond_stretch:
                logger.warning("checkpoint %s holds no bond lengths of the run's start (an older version wrote "
                               "it): the bond guard measures from the resumed geometry", config.checkpoint)
            reference = bond_lengths(system, simulation.context.getState(getPositions=True), bonds)
        if config.max_bond_stretch:
            bond_watch = (pdb.topology, bonds, reference, config.max_bond_stretch / 10.0)
    steps = max(config.steps - start_step, 0)
    progress = ProgressReporter(config.report_interval, steps, config.timestep_fs,
                                degrees_of_freedom(system), config.progress, bond_watch, start_step)
    simulation.reporters.append(progress)
    writer = None
    if config.checkpoint:
        writer = CheckpointWriter(Path(config.checkpoint), config.checkpoint_interval, settings, reference, progress,
                                  constrained)
        simulation.reporters.append(writer)
        if saved is None:  # the start state (minimised, thermalised): a job killed before the first
            writer.write(simulation)  # interval is resumed from it, not refused for its output files
    start = time.perf_counter()
    try:
        simulation.step(steps)
        if simulation.currentStep % config.report_interval:  # steps after the last report: checked too
            progress.check(simulation, simulation.context.getState(getEnergy=True, getPositions=True))
        if progress.stopping:  # a bond broke at the very last report (or after it): no later report raises it
            raise progress.stop_error
        if writer is not None and writer.last_step != simulation.currentStep:
            writer.write(simulation)  # the end of the run: a later --resume with more --steps extends it
    except BondBrokenError as exc:  # how far it got, timed as a finished run's ns/day is
        exc.steps_run, exc.wall_s = simulation.currentStep - start_step, time.perf_counter() - start
        raise
    finally:
        progress.close()
        simulation.reporters.clear()  # releasing the DCD/CSV reporters closes their files now, also after an error
    wall = time.perf_counter() - start
    state = simulation.context.getState(getEnergy=True)
    simulated_ps = steps * config.timestep_fs * 1e-3
    summary = {
        "steps": max(config.steps, start_step),
        "steps_run": steps,
        "resumed_from_step": start_step if saved is not None else None,
        "resume_exact": exact,
        "simulated_ps": simulated_ps,
        "wall_s": wall,
        "ns_per_day": simulated_ps * 1e-3 / (wall / 86400.0) if wall > 0 else float("nan"),
        "platform": platform.getName(),
        "backend": backend,
        "final_potential_kj_mol": state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole),
        "mean_temperature_k": (sum(progress.temperatures) / len(progress.temperatures)
                               if progress.temperatures else float("nan")),
        "dcd": str(config.dcd) if config.dcd else None,
        "csv": str(config.csv) if config.csv else None,
        "checkpoint": str(config.checkpoint) if config.checkpoint else None,
    }
    return summary
