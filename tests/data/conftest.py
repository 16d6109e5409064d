"""Fixtures for the data tests: small synthetic datasets with known content, and a tiny
generated dataset (real RDKit + GFN-FF + tblite GFN2-xTB), built once per session."""
import os

import numpy as np
import pytest
import yaml

os.environ.setdefault("OMP_NUM_THREADS", "1")


def make_frames(n_structures=12, seed=0, sizes=(5, 7), n_molecules=4):
    """Synthetic Frames whose energies are exactly sum of per-element energies (no noise).

    Returns (frames, true_refs)."""
    from openmm_range.data.frames import Frames

    rng = np.random.default_rng(seed)
    true_refs = {1: -13.6, 6: -1027.5, 8: -2039.7}
    z, pos, forces, energy, n_atoms, mol_id = [], [], [], [], [], []
    for s in range(n_structures):
        m = s % n_molecules
        n = sizes[m % len(sizes)]
        heavy = [6] * (1 + m % 2) + [8] * (1 + (m // 2) % 2)  # four different compositions
        zs = np.array(heavy + [1] * (n - len(heavy)))
        z.append(zs)
        pos.append(rng.normal(size=(n, 3)) * 2)
        forces.append(rng.normal(size=(n, 3)))
        energy.append(sum(true_refs[int(a)] for a in zs))
        n_atoms.append(n)
        mol_id.append(m)
    frames = Frames.from_arrays(
        z=np.concatenate(z),
        pos=np.concatenate(pos),
        energy=energy,
        forces=np.concatenate(forces),
        n_atoms=n_atoms,
        mol_id=mol_id,
        molecules=[f"m{i}" for i in range(n_molecules)],
        source="synthetic",
    )
    return frames, true_refs


@pytest.fixture
def synthetic():
    return make_frames()


@pytest.fixture
def frames_factory():
    return make_frames


TINY_SPEC = {
    "name": "tiny-xtb",
    "seed": 7,
    "label": {"method": "GFN2-xTB", "accuracy": 0.01},
    "conformers": {"n": 2, "candidates": 4, "select": "rg_stratified"},
    "sampling": [
        {"kind": "md", "sampler": "gfnff", "temperatures": [300, 600], "frames": 3, "stride": 5, "equilibration": 10},
        {"kind": "displace", "sigma": 0.05, "frames": 1},
    ],
    "molecules": [
        {"name": "ethanol", "smiles": "CCO"},
        {"name": "acetate", "smiles": "CC(=O)[O-]"},
    ],
    "spot_check": {"structures": 2, "components": 3, "step": 0.002},
}

TINY_DIMER_SPEC = {
    "name": "tiny-dimers",
    "seed": 11,
    "label": {"method": "GFN2-xTB", "accuracy": 0.01},
    "conformers": {"n": 1, "candidates": 1, "select": "first"},
    "dimers": {
        "monomers": [{"name": "water", "smiles": "O"}, {"name": "methanol", "smiles": "CO"}],
        "pairs": [["water", "methanol"], ["water", "water"]],
        "replicas": 1,
        "frames": 4,
        "gap_min": 2.0,
        "gap_max": 12.0,
        "md_steps": 5,
        "far_fraction": 0.5,
        "far_gap_max": 40.0,
        "monomer_replicas": 1,
        "monomer_frames": 2,
    },
    "spot_check": {"structures": 1, "components": 2, "step": 0.002},
}


def write_spec(directory, spec):
    path = os.path.join(str(directory), "specs", f"{spec['name']}.yaml")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        yaml.safe_dump(spec, handle)
    return path


@pytest.fixture
def tiny_spec():
    """(a copy of the tiny spec mapping, write_spec(directory, spec) -> path)."""
    import copy

    return copy.deepcopy(TINY_SPEC), write_spec


@pytest.fixture(scope="session")
def tiny_generated(tmp_path_factory):
    """(spec_path, out_dir, summary) of the tiny spec generated to completion with 1 worker."""
    from openmm_range.data.generate.runner import generate

    base = tmp_path_factory.mktemp("gen")
    spec_path = write_spec(base, TINY_SPEC)
    summary = generate(spec_path, workers=1, progress=False, log=lambda *a: None)
    return spec_path, os.path.join(str(base), "tiny-xtb"), summary


@pytest.fixture(scope="session")
def tiny_dimers(tmp_path_factory):
    from openmm_range.data.generate.runner import generate

    base = tmp_path_factory.mktemp("dimers")
    spec_path = write_spec(base, TINY_DIMER_SPEC)
    summary = generate(spec_path, workers=1, progress=False, log=lambda *a: None)
    return spec_path, os.path.join(str(base), "tiny-dimers"), summary
