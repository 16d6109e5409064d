"""Helpers shared by the OpenMM plugin tests (fixtures are in conftest.py).

The models are untrained and tiny (16 features, 2 interactions) so that the whole
directory runs in a few minutes on two cores; OpenMM sees them exactly as trained ones.
"""
from pathlib import Path

import numpy as np
import openmm
import openmm.app as app
import pytest
import torch

import openmm_range

REPO_ROOT = Path(__file__).resolve().parents[2]
#: Committed test structures (provenance in data/structures/README.md).
STRUCTURES = REPO_ROOT / "data" / "structures"
ALANINE_PDB = STRUCTURES / "alanine-dipeptide-explicit.pdb"

PLATFORMS = [openmm.Platform.getPlatform(i).getName() for i in range(openmm.Platform.getNumPlatforms())]
#: Elements of the test models: enough for peptides, DHA and water.
ELEMENTS = [1, 6, 7, 8]
TINY = dict(cutoff=5.0, hidden_channels=16, num_interactions=2, num_heads=2, num_master_nodes=2, num_rbf=16,
            readout_layers=[16], elements=ELEMENTS)


def make_model_file(directory: Path, name: str, seed: int = 0, scale: float = 1.0, **overrides) -> Path:
    """Save an untrained tiny model ``name``; ``scale`` multiplies its energy (and forces)."""
    torch.manual_seed(seed)
    model = openmm_range.create_model(name, **{**TINY, **overrides})
    if scale != 1.0:
        model.readout.scale.fill_(scale)  # per-element energy scale (a saved buffer)
    tag = "".join(f"-{k}={v}" for k, v in sorted(overrides.items()))
    path = directory / f"{name}-seed{seed}-x{scale:g}{tag}.pt"
    openmm_range.save_model(model, path)
    return path


def peptide_only(pdb: app.PDBFile, periodic: bool = False):
    """Topology and positions (nm, numpy) of chain 0 (ACE-ALA-NME) without the water."""
    modeller = app.Modeller(pdb.topology, pdb.positions)
    modeller.delete([a for a in pdb.topology.atoms() if a.residue.chain.index != 0])
    topology = modeller.getTopology()
    if not periodic:
        topology.setPeriodicBoxVectors(None)
    positions = np.array(modeller.getPositions().value_in_unit(openmm.unit.nanometer))
    return topology, positions


def energy_forces(system: openmm.System, positions, platform: str, box=None, groups=None):
    """Potential energy (kJ/mol) and forces (kJ/mol/nm, numpy) from a fresh Context."""
    context = openmm.Context(system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName(platform))
    if box is not None:
        context.setPeriodicBoxVectors(*box)
    context.setPositions(positions)
    kwargs = {} if groups is None else {"groups": groups}
    state = context.getState(getEnergy=True, getForces=True, **kwargs)
    return (state.getPotentialEnergy().value_in_unit(openmm.unit.kilojoule_per_mole),
            state.getForces(asNumpy=True).value_in_unit(openmm.unit.kilojoule_per_mole / openmm.unit.nanometer))


def require_backend(backend: str, skip_if_missing: bool = False) -> None:
    """Fail (or, where the environment is known to lack it, skip) unless ``backend`` can run.

    The test environment (scripts/ensure_env.sh) installs openmmtorch, so an unusable TorchForce
    there is a failure; only the GPU machine's check, whose Python stack cannot run openmmtorch
    (docs/device_check.md), skips (``skip_if_missing``)."""
    if backend != "torchforce":
        return
    from openmm_range.openmm.backends import torchforce_status

    usable, why = torchforce_status()
    if not usable:
        message = f"openmmtorch's TorchForce is not usable in this environment: {why}"
        if skip_if_missing:
            pytest.skip(message)
        pytest.fail(message)
