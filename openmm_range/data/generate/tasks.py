"""Work units of the generator: planning them from a spec and running one.

A task is deterministic: its random numbers come from ``SeedSequence([spec.seed, kind,
i, j])``, its conformers from ETKDG with a seed derived the same way, and its labels from
tblite on float32-rounded positions (exactly what is stored). Re-running a task gives the
same chunk, so an interrupted generation resumes without changing the result.
"""
import functools
import os
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

from openmm_range.data.frames import Frames
from openmm_range.data.generate.md import (atomic_masses, close_contacts, langevin_frames, random_displacements,
                                              stretched_xh_bonds)
from openmm_range.data.generate.molecules import (
    Molecule,
    build_molecule,
    dimer_centre_distance,
    min_distance,
    parse_smiles,
    place_dimer,
    stack_dimer,
)
from openmm_range.data.generate.potentials import GFNFFPotential, SCFError, XTBPotential
from openmm_range.data.generate.spec import MoleculeSpec, SamplingStep, Spec

_KIND_CONFORMERS, _KIND_MOLECULE_TASK, _KIND_DIMER_TASK = 1, 2, 3
#: Sampling with GFN2-xTB itself uses tblite's default accuracy: trajectories only need to be plausible.
SAMPLER_ACCURACY = 1.0


@dataclass(frozen=True)
class Task:
    """One work unit: ``group`` is the molecule (or dimer pair) index, ``replica`` the conformer/replica."""

    task_id: int
    group: int
    replica: int
    n_structures: int


def _seed(*parts: int) -> np.random.SeedSequence:
    return np.random.SeedSequence([int(p) for p in parts])


def structures_per_molecule_task(steps: List[SamplingStep]) -> int:
    """Structures one (molecule, conformer) task produces before SCF failures."""
    return sum(s.frames * (len(s.temperatures) if s.kind == "md" else 1) for s in steps)


def plan_tasks(spec: Spec) -> List[Task]:
    """All tasks of a spec in a fixed order: replica-major (first conformer of every molecule,
    then the second, ...), so that a partly generated dataset already covers every molecule.
    A task's random numbers depend on (molecule, replica), not on its position in this list."""
    tasks = []
    if spec.is_dimer:
        d = spec.dimers
        for r in range(d.replicas):
            for p in range(len(d.pairs)):
                tasks.append(Task(len(tasks), p, r, d.frames))
        if d.monomer_frames > 0:  # monomers alone: groups after the pairs
            for r in range(d.monomer_replicas):
                for m in range(len(d.monomers)):
                    tasks.append(Task(len(tasks), len(d.pairs) + m, r, d.monomer_frames))
    else:
        per = structures_per_molecule_task(spec.sampling)
        for c in range(spec.conformers.n):
            for m in range(len(spec.molecules)):
                tasks.append(Task(len(tasks), m, c, per))
    return tasks


def molecule_table(spec: Spec) -> List[Dict]:
    """One JSON-able record per molecule id (name, SMILES, charge, spin, atoms; fragments for dimers)."""
    from rdkit import Chem

    def describe(m: MoleculeSpec) -> Dict:
        mol = parse_smiles(m.smiles, m.name)
        return {
            "name": m.name,
            "smiles": m.smiles,
            "charge": int(Chem.GetFormalCharge(mol)),
            "uhf": m.uhf,
            "n_atoms": mol.GetNumAtoms(),
        }

    if not spec.is_dimer:
        return [describe(m) for m in spec.molecules]
    monomers = {m.name: describe(m) for m in spec.dimers.monomers}
    table = []
    for a, b in spec.dimers.pairs:
        ra, rb = monomers[a], monomers[b]
        table.append(
            {
                "name": f"{a}+{b}",
                "smiles": f"{ra['smiles']}.{rb['smiles']}",
                "charge": ra["charge"] + rb["charge"],
                "uhf": ra["uhf"] + rb["uhf"],
                "n_atoms": ra["n_atoms"] + rb["n_atoms"],
                "fragments": [ra["n_atoms"], rb["n_atoms"]],
                "fragment_charges": [ra["charge"], rb["charge"]],
            }
        )
    if spec.dimers.monomer_frames > 0:
        for m in spec.dimers.monomers:
            r = monomers[m.name]
            table.append({**r, "name": f"{m.name} (alone)", "fragments": [r["n_atoms"]],
                          "fragment_charges": [r["charge"]]})
    return table


@functools.lru_cache(maxsize=4096)
def _cached_molecule(name, smiles, n, candidates, select, seed, charge, uhf) -> Molecule:
    return build_molecule(name, smiles, n, seed=seed, n_candidates=candidates, select=select, charge=charge, uhf=uhf)


def get_molecule(spec: Spec, m: MoleculeSpec, index: int, n_conformers: int) -> Molecule:
    """ETKDG conformers of molecule ``m`` (seeded by the spec seed and the molecule's index)."""
    seed = int(_seed(spec.seed, _KIND_CONFORMERS, index).generate_state(1)[0])
    return _cached_molecule(
        m.name, m.smiles, n_conformers, spec.conformers.candidates, spec.conformers.select, seed, m.charge, m.uhf
    )


def _label(
    spec: Spec,
    z: np.ndarray,
    charge: int,
    uhf: int,
    frames: List[np.ndarray],
    fragment: Optional[Tuple[int, int, float]] = None,
) -> Tuple[List[np.ndarray], List[float], List[np.ndarray], List[int], List[float], Dict[str, int]]:
    """Label frames with tblite; returns float32-rounded positions, energies, forces, kept frame
    indices, for ``fragment = (n_a, charge_a, max_transfer)`` the charge moved off monomer A
    (frames moving more than ``max_transfer`` e are dropped), and counts of dropped frames."""
    xtb = XTBPotential(
        z,
        charge=charge,
        uhf=uhf,
        method=spec.label.method,
        accuracy=spec.label.accuracy,
        electronic_temperature=spec.label.electronic_temperature,
        max_iter=spec.label.max_iter,
    )
    pos_out, e_out, f_out, kept, transfer = [], [], [], [], []
    dropped = {"scf_failures": 0, "charge_transfer": 0}
    for k, frame in enumerate(frames):
        pos32 = np.asarray(frame, dtype=np.float32)
        try:
            energy, forces = xtb(pos32.astype(np.float64))
        except SCFError:
            xtb.reset()
            dropped["scf_failures"] += 1
            continue
        if fragment is not None:
            n_a, charge_a, max_transfer = fragment
            moved = float(xtb.last_charges[:n_a].sum() - charge_a)
            if abs(moved) > max_transfer:
                xtb.reset()
                dropped["charge_transfer"] += 1
                continue
            transfer.append(moved)
        pos_out.append(pos32)
        e_out.append(energy)
        f_out.append(forces)
        kept.append(k)
    return pos_out, e_out, f_out, kept, transfer, dropped


def _sample_molecule(spec: Spec, task: Task, rng: np.random.Generator) -> Tuple[Molecule, List[np.ndarray], List[Dict]]:
    """Frames of one molecule task: every sampling step of the spec, started from conformer ``task.replica``."""
    mspec = spec.molecules[task.group]
    mol = get_molecule(spec, mspec, task.group, spec.conformers.n)
    start = mol.conformers[task.replica % len(mol.conformers)]
    masses = atomic_masses(mol.z)
    frames: List[np.ndarray] = []
    tags: List[Dict] = []
    for step in spec.sampling:
        if step.kind == "displace":
            frames += random_displacements(start, step.sigma, step.frames, rng)
            tags.append({"kind": "displace", "sigma": step.sigma, "count": step.frames})
            continue
        if step.kind == "stretch":
            stretched = stretched_xh_bonds(start, mol.z, mol.bonds, step.frames, step.max_length, step.sigma, rng)
            frames += stretched
            tags.append({"kind": "stretch", "sigma": step.sigma, "max_length": step.max_length, "count": len(stretched),
                         "collisions_left_out": step.frames - len(stretched)})
            continue
        if step.kind == "contact":
            frames += close_contacts(start, mol.z, mol.bonds, step.frames, step.min_distance, step.sigma, rng)
            tags.append({"kind": "contact", "sigma": step.sigma, "min_distance": step.min_distance,
                         "count": step.frames})
            continue
        for temperature in step.temperatures:
            if step.sampler == "gfnff":
                potential = GFNFFPotential(mol.z, start, charge=mol.charge, bonds=mol.bonds)
            else:
                potential = XTBPotential(mol.z, charge=mol.charge, uhf=mol.uhf, accuracy=SAMPLER_ACCURACY)
            traj = langevin_frames(
                potential,
                start,
                masses,
                temperature,
                rng,
                n_frames=step.frames,
                stride=step.stride,
                equilibration=step.equilibration,
                timestep=step.timestep,
                friction=step.friction,
            )
            frames += traj
            tags.append({"kind": "md", "sampler": step.sampler, "temperature": temperature, "count": len(traj)})
    return mol, frames, tags


def _sample_dimer(spec: Spec, task: Task, rng: np.random.Generator):
    """Frames of one dimer task: random gap, conformers and orientation per frame, then a few
    GFN-FF steps. Returns (z, charge, uhf, frames, per-frame records, [n_a, n_b], charge of A)."""
    d = spec.dimers
    names = {m.name: (i, m) for i, m in enumerate(d.monomers)}
    ia, ma = names[d.pairs[task.group][0]]
    ib, mb = names[d.pairs[task.group][1]]
    n_conf = max(spec.conformers.n, 1)
    mol_a = get_molecule(spec, ma, 1000 + ia, n_conf)
    mol_b = get_molecule(spec, mb, 1000 + ib, n_conf)
    z, bonds, fragments = stack_dimer(mol_a, mol_b)
    ref_charges = np.concatenate([mol_a.formal_charges, mol_b.formal_charges])
    masses = atomic_masses(z)
    n_a = mol_a.n_atoms
    frames, gaps, centres = [], [], []
    for _ in range(d.frames):
        gap = float(rng.uniform(d.gap_min, d.gap_max))
        if d.far_fraction > 0 and rng.random() < d.far_fraction:
            gap = float(rng.uniform(d.gap_max, d.far_gap_max))
        ca = mol_a.conformers[rng.integers(len(mol_a.conformers))]
        cb = mol_b.conformers[rng.integers(len(mol_b.conformers))]
        pa, pb = place_dimer(ca, cb, gap, rng)
        pos = np.concatenate([pa, pb])
        if d.md_steps > 0:
            ff = GFNFFPotential(z, pos, charge=mol_a.charge + mol_b.charge, bonds=bonds, fragments=fragments, ref_charges=ref_charges)
            traj = langevin_frames(ff, pos, masses, d.temperature, rng, n_frames=1, stride=d.md_steps, timestep=d.timestep, friction=d.friction)
            if traj:
                pos = traj[-1]
        frames.append(pos)
        gaps.append(min_distance(pos[:n_a], pos[n_a:]))
        centres.append(dimer_centre_distance(pos[:n_a], pos[n_a:]))
    charge = mol_a.charge + mol_b.charge
    per_frame = {"gap": gaps, "centre_distance": centres}
    return z, charge, mol_a.uhf + mol_b.uhf, frames, per_frame, [n_a, mol_b.n_atoms], mol_a.charge


def _sample_monomer(spec: Spec, task: Task, rng: np.random.Generator):
    """Frames of one monomer alone (group index past the pairs): random conformer, then the
    same GFN-FF thermalisation as the dimers. Returns (z, charge, uhf, frames)."""
    d = spec.dimers
    index = task.group - len(d.pairs)
    m = d.monomers[index]
    mol = get_molecule(spec, m, 1000 + index, max(spec.conformers.n, 1))
    masses = atomic_masses(mol.z)
    frames = []
    for _ in range(task.n_structures):
        pos = mol.conformers[rng.integers(len(mol.conformers))]
        if d.md_steps > 0:
            ff = GFNFFPotential(mol.z, pos, charge=mol.charge, bonds=mol.bonds)
            traj = langevin_frames(ff, pos, masses, d.temperature, rng, n_frames=1, stride=d.md_steps,
                                   timestep=d.timestep, friction=d.friction)
            if traj:
                pos = traj[-1]
        frames.append(pos)
    return mol.z, mol.charge, mol.uhf, frames


def run_task(spec: Spec, task: Task) -> Tuple[Frames, Dict]:
    """Sample and label one task; returns its Frames and a JSON-able info record."""
    t0 = time.perf_counter()
    started: Dict = {}
    if spec.is_dimer and task.group >= len(spec.dimers.pairs):
        rng = np.random.default_rng(_seed(spec.seed, _KIND_DIMER_TASK, task.group, task.replica))
        z, charge, uhf, frames = _sample_monomer(spec, task, rng)
        per_frame, fragment = {}, None
        tags = [{"kind": "monomer", "md_steps": spec.dimers.md_steps, "temperature": spec.dimers.temperature,
                 "count": len(frames)}]
    elif spec.is_dimer:
        rng = np.random.default_rng(_seed(spec.seed, _KIND_DIMER_TASK, task.group, task.replica))
        z, charge, uhf, frames, per_frame, fragments, charge_a = _sample_dimer(spec, task, rng)
        fragment = (fragments[0], charge_a, spec.dimers.max_charge_transfer)
        tags = [
            {
                "kind": "dimer",
                "fragments": fragments,
                "md_steps": spec.dimers.md_steps,
                "temperature": spec.dimers.temperature,
                "count": len(frames),
            }
        ]
    else:
        rng = np.random.default_rng(_seed(spec.seed, _KIND_MOLECULE_TASK, task.group, task.replica))
        mol, frames, tags = _sample_molecule(spec, task, rng)
        z, charge, uhf, per_frame, fragment = mol.z, mol.charge, mol.uhf, {}, None
        # RMS pruning can leave fewer distinct conformers than asked (rigid molecules): say which one started it
        started = {"conformer": task.replica % len(mol.conformers), "conformers_built": len(mol.conformers)}
    t1 = time.perf_counter()
    pos, energy, forces, kept, transfer, dropped = _label(spec, z, charge, uhf, frames, fragment)
    t2 = time.perf_counter()
    if not kept:
        raise RuntimeError(f"task {task.task_id}: no structure could be labelled (all SCF failed)")
    n = len(kept)
    out = Frames.from_arrays(
        z=np.tile(z, n),
        pos=np.concatenate(pos),
        energy=np.array(energy),
        forces=np.concatenate(forces),
        n_atoms=np.full(n, len(z)),
        mol_id=np.full(n, task.group),
        charge=np.full(n, charge),
        spin=np.full(n, uhf),
        molecules=[f"mol{i}" for i in range(task.group + 1)],  # names live in meta.json, not in chunks
        source=f"task {task.task_id}",
    )
    info = {
        "task_id": task.task_id,
        "group": task.group,
        "replica": task.replica,
        **started,
        "sampling": tags,
        "kept": kept if len(kept) != len(frames) else "all",
        "scf_failures": dropped["scf_failures"],
        "charge_transfer_dropped": dropped["charge_transfer"],
        "seconds_sampling": round(t1 - t0, 3),
        "seconds_labelling": round(t2 - t1, 3),
        "pid": os.getpid(),
    }
    for key, values in per_frame.items():
        info[key] = [round(values[k], 4) for k in kept]
    if fragment is not None:
        info["charge_transfer"] = [round(q, 5) for q in transfer]
    return out, info
