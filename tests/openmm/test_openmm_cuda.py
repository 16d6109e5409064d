"""CUDA paths: CUDA-graph replay in the PythonForce backend, TorchForce on the CUDA platform.

Skipped without a CUDA GPU (and, for TorchForce, without the CUDA platform and a working
openmmtorch).
"""
import numpy as np
import openmm
import pytest
import torch
from openmmml import MLPotential

from openmm_range.openmm.pythonforce_backend import RangeComputation

from openmm_helpers import PLATFORMS, energy_forces, require_backend

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_pythonforce_replays_a_cuda_graph(model_files, peptide):
    topology, positions = peptide
    path = model_files["range-schnet"]
    numbers = [a.element.atomic_number for a in topology.atoms()]
    computation = RangeComputation(path.read_bytes(), numbers, False, "float32", "cuda", cuda_graphs=True,
                                   warmup_steps=3)
    base = torch.tensor(positions, dtype=torch.float32, device="cuda")
    for k in range(6):
        moved = base + 0.001 * k
        energy, forces = computation.evaluate(moved, None)
        ref_energy, ref_forces = computation.module()(moved, None)
        assert float(energy) == pytest.approx(float(ref_energy), rel=1e-5)
        assert float((forces - ref_forces).abs().max()) <= 1e-4 * float(ref_forces.abs().max())
    assert computation._graph_state == "on"


@pytest.mark.skipif("CUDA" not in PLATFORMS, reason="needs a CUDA GPU and OpenMM's CUDA platform")
@pytest.mark.parametrize("backend", ["python", "torchforce"])
def test_cuda_platform_matches_reference(backend, model_files, peptide):
    require_backend(backend, skip_if_missing=True)  # the GPU machine cannot run openmmtorch
    topology, positions = peptide
    potential = MLPotential("range-schnet", modelPath=str(model_files["range-schnet"]))
    system = potential.createSystem(topology, backend=backend, cudaGraphs=True, cudaGraphWarmupSteps=2)
    context = openmm.Context(system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("CUDA"))
    context.setPositions(positions)
    for _ in range(4):  # past the warm-up: graphs are replayed
        state = context.getState(getEnergy=True, getForces=True)
    energy = state.getPotentialEnergy().value_in_unit(openmm.unit.kilojoule_per_mole)
    forces = state.getForces(asNumpy=True).value_in_unit(openmm.unit.kilojoule_per_mole / openmm.unit.nanometer)
    ref_energy, ref_forces = energy_forces(potential.createSystem(topology, backend="python", cudaGraphs=False),
                                           positions, "Reference")
    assert energy == pytest.approx(ref_energy, rel=1e-4)
    assert np.abs(forces - ref_forces).max() <= 1e-3 * np.abs(ref_forces).max()


def test_too_few_neighbour_slots_is_a_clear_error(model_files, peptide):
    """On CUDA the exported module uses the static neighbour list, sized by maxNeighbors."""
    topology, positions = peptide
    numbers = [a.element.atomic_number for a in topology.atoms()]
    computation = RangeComputation(model_files["range-schnet"].read_bytes(), numbers, False, "float32", "cuda",
                                   cuda_graphs=False, max_neighbors=3)
    with pytest.raises(RuntimeError, match="neighbour capacity overflow"):
        computation.evaluate(torch.tensor(positions, dtype=torch.float32, device="cuda"), None)
