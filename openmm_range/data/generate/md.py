"""Langevin molecular dynamics (BAOAB splitting) and random displacements, in Å, fs, amu, eV.

Written out here (rather than using ASE's integrators) so that a trajectory depends only on
the potential, the start, and one ``numpy.random.Generator``: a task re-run from its seed
gives the same frames bit for bit on the same machine and library versions.
"""
from typing import Callable, List, Tuple

import numpy as np

#: 1 eV/(Å amu) expressed in Å/fs^2 (eV = 1.602176634e-19 J, amu = 1.66053906660e-27 kg).
ACCEL_EV_PER_ANGSTROM_AMU = 1.602176634e-19 / (1e-10 * 1.66053906660e-27) * 1e10 / 1e30
#: Boltzmann constant, eV/K.
BOLTZMANN_EV_PER_K = 8.617333262e-5

Potential = Callable[[np.ndarray], Tuple[float, np.ndarray]]


def atomic_masses(z: np.ndarray) -> np.ndarray:
    """Standard atomic masses (amu) of atomic numbers ``z`` (from ASE's table)."""
    from ase.data import atomic_masses as table

    return np.asarray(table, dtype=np.float64)[np.asarray(z, dtype=np.int64)]


def maxwell_boltzmann(masses: np.ndarray, temperature: float, rng: np.random.Generator) -> np.ndarray:
    """(n, 3) velocities, Å/fs, drawn at ``temperature`` K, centre-of-mass motion removed."""
    sigma = np.sqrt(BOLTZMANN_EV_PER_K * temperature / masses * ACCEL_EV_PER_ANGSTROM_AMU)
    vel = rng.normal(size=(masses.shape[0], 3)) * sigma[:, None]
    vel -= (masses[:, None] * vel).sum(axis=0) / masses.sum()
    return vel


def langevin_frames(
    potential: Potential,
    pos: np.ndarray,
    masses: np.ndarray,
    temperature: float,
    rng: np.random.Generator,
    n_frames: int,
    stride: int,
    equilibration: int = 0,
    timestep: float = 0.5,
    friction: float = 0.01,
    max_force: float = 50.0,
) -> List[np.ndarray]:
    """Run BAOAB Langevin dynamics and return ``n_frames`` snapshots (each (n, 3) Å), one every
    ``stride`` steps after ``equilibration`` steps.

    Args:
        timestep: fs. friction: collision rate, 1/fs. temperature: K.
        max_force: eV/Å; a force above this means the sampler left its valid region, and the
            trajectory stops early (the frames so far are returned). So does an SCF that does
            not converge (``sampler: gfn2``): the task keeps its frames instead of failing on
            every run alike (its seed is fixed).
    """
    from .potentials import SCFError

    pos = np.array(pos, dtype=np.float64)
    vel = maxwell_boltzmann(masses, temperature, rng)
    inv_m = ACCEL_EV_PER_ANGSTROM_AMU / masses[:, None]
    c1 = np.exp(-friction * timestep)
    c2 = np.sqrt((1.0 - c1 * c1) * BOLTZMANN_EV_PER_K * temperature * ACCEL_EV_PER_ANGSTROM_AMU / masses)[:, None]
    _, forces = potential(pos)
    frames: List[np.ndarray] = []
    total = equilibration + n_frames * stride
    for step in range(1, total + 1):
        vel += 0.5 * timestep * forces * inv_m
        pos += 0.5 * timestep * vel
        vel = c1 * vel + c2 * rng.normal(size=vel.shape)
        pos += 0.5 * timestep * vel
        try:
            _, forces = potential(pos)
        except SCFError:
            break
        if not np.all(np.isfinite(forces)) or np.abs(forces).max() > max_force:
            break
        vel += 0.5 * timestep * forces * inv_m
        if step > equilibration and (step - equilibration) % stride == 0:
            frames.append(pos.copy())
    return frames


def random_displacements(pos: np.ndarray, sigma: float, n: int, rng: np.random.Generator) -> List[np.ndarray]:
    """``n`` copies of ``pos`` (n_atoms, 3) Å with independent Gaussian displacements of ``sigma`` Å per component."""
    return [pos + rng.normal(scale=sigma, size=pos.shape) for _ in range(n)]


#: a stretched X-H bond is drawn from [STRETCH_MIN_FACTOR * r0, max_length]
STRETCH_MIN_FACTOR = 1.15
#: the stretched hydrogen keeps at least this distance (Å) from every other atom; a draw that
#: brings it closer is made again (up to STRETCH_TRIES times; then that frame is left out)
STRETCH_MIN_GAP = 0.9
STRETCH_TRIES = 20


def xh_pairs(z: np.ndarray, bonds: np.ndarray, kind: str) -> List[Tuple[int, int]]:
    """(heavy atom, hydrogen) of every X-H bond in the (n_atoms, n_atoms) bond matrix ``bonds``, in
    the order of the matrix's upper triangle; ValueError naming the sampling ``kind`` if there is none."""
    pairs = [(int(i), int(j)) if z[j] == 1 else (int(j), int(i)) for i, j in zip(*np.nonzero(np.triu(bonds)))
             if (z[i] == 1) != (z[j] == 1)]
    if not pairs:
        raise ValueError(f"{kind} sampling needs a molecule with an X-H bond")
    return pairs


def stretched_xh_bonds(pos: np.ndarray, z: np.ndarray, bonds: np.ndarray, n: int, max_length: float, sigma: float,
                       rng: np.random.Generator) -> List[np.ndarray]:
    """``n`` copies of ``pos`` (n_atoms, 3) Å, each with Gaussian displacements of ``sigma`` Å per
    component and one X-H bond, chosen at random, stretched to a length drawn uniformly from
    [STRETCH_MIN_FACTOR * r0, ``max_length``] Å by moving its hydrogen along the bond.

    These are the dissociation side of the potential: thermal sampling never reaches it, yet a
    model that gets it wrong lets hydrogens leave in MD (benchmarks/bond_dissociation.py).
    Moving a hydrogen along its bond can drive it into another atom (a carboxylic acid's H into
    its other oxygen): such a draw, with the hydrogen closer than ``STRETCH_MIN_GAP`` Å to any
    other atom, is made again (bond, displacements and length), since it samples a collision, not a
    dissociation (stretch-xtb, generated before this check, holds four, at 0.505-0.61 Å from an O).
    The redraws make the lengths less than uniform where a stretch can hit another atom. A frame
    for which no draw in STRETCH_TRIES keeps the gap is left out (so fewer than ``n`` may come
    back; the caller records how many), rather than failing the molecule's other frames with it.
    ``bonds``: (n_atoms, n_atoms) bond matrix (non-zero = bonded). ValueError if there is no X-H
    bond.
    """
    pairs = xh_pairs(z, bonds, "stretch")
    out = []
    for _ in range(n):
        for _ in range(STRETCH_TRIES):
            heavy, hydrogen = pairs[rng.integers(len(pairs))]
            frame = pos + rng.normal(scale=sigma, size=pos.shape)
            bond = frame[hydrogen] - frame[heavy]
            r0 = float(np.linalg.norm(bond))
            length = float(rng.uniform(min(STRETCH_MIN_FACTOR * r0, max_length), max_length))
            frame[hydrogen] = frame[heavy] + bond * (length / r0)
            gaps = np.linalg.norm(frame - frame[hydrogen], axis=1)
            gaps[[hydrogen, heavy]] = np.inf
            if gaps.min() >= STRETCH_MIN_GAP:
                out.append(frame)
                break
    return out


#: a compressed X-H bond is drawn from COMPRESS_FACTORS x r0; a pushed hydrogen ends up to
#: CONTACT_MAX_DISTANCE Å from an atom it is not bonded to, starting from one within CONTACT_SEARCH Å
COMPRESS_FACTORS = (0.65, 0.9)
CONTACT_MAX_DISTANCE = 1.8
CONTACT_SEARCH = 4.0


def close_contacts(pos: np.ndarray, z: np.ndarray, bonds: np.ndarray, n: int, min_distance: float, sigma: float,
                   rng: np.random.Generator) -> List[np.ndarray]:
    """``n`` copies of ``pos`` (n_atoms, 3) Å, each with Gaussian displacements of ``sigma`` Å per
    component and one hydrogen, chosen at random, pushed into the repulsive side of the potential:
    half the frames (at random) compress its X-H bond to a length drawn from ``COMPRESS_FACTORS``
    x r0; the others move it straight at an atom it is not bonded to (one within
    ``CONTACT_SEARCH`` Å), to a distance drawn from [``min_distance``, ``CONTACT_MAX_DISTANCE``] Å.

    Thermal sampling never gets there, and a model that has not seen it lets atoms fall together
    once an integration step overshoots (benchmarks/close_contacts.py). ``bonds``: (n_atoms,
    n_atoms) bond matrix (non-zero = bonded). ValueError if there is no X-H bond.
    """
    pairs = xh_pairs(z, bonds, "contact")
    out = []
    for _ in range(n):
        heavy, hydrogen = pairs[rng.integers(len(pairs))]
        frame = pos + rng.normal(scale=sigma, size=pos.shape)
        dist = np.linalg.norm(frame - frame[hydrogen], axis=1)
        targets = [j for j in range(len(z)) if j != hydrogen and not bonds[hydrogen, j] and dist[j] < CONTACT_SEARCH]
        shortest = COMPRESS_FACTORS[0] * dist[heavy]  # the moved hydrogen may not come closer to its own atom
        placed = None
        if targets and rng.random() >= 0.5:
            for _ in range(10):  # a placement that brings another atom closer than min_distance is drawn again
                j = targets[rng.integers(len(targets))]
                trial = frame[j] + (frame[hydrogen] - frame[j]) / dist[j] * rng.uniform(min_distance,
                                                                                       CONTACT_MAX_DISTANCE)
                gaps = np.linalg.norm(frame - trial, axis=1)
                gaps[hydrogen] = np.inf
                if gaps.min() >= min_distance and np.linalg.norm(trial - frame[heavy]) >= shortest:
                    placed = trial
                    break
        if placed is None:  # (also when no target placement worked out) compress the bond instead
            placed = frame[heavy] + (frame[hydrogen] - frame[heavy]) * rng.uniform(*COMPRESS_FACTORS)
        frame[hydrogen] = placed
        out.append(frame)
    return out
