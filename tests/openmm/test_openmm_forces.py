"""OpenMM energies and forces equal the exported module's own, on every platform and backend."""
import numpy as np
import pytest
import torch
from openmmml import MLPotential

import openmm_range
from openmm_range.openmm.simulation import backend_in_use
from openmm_range.registry import MODEL_NAMES

from openmm_helpers import PLATFORMS, energy_forces, require_backend


def module_energy_forces(path, topology, positions, dtype=torch.float64):
    """Energy (kJ/mol) and forces (kJ/mol/nm) from the exported module itself."""
    numbers = [atom.element.atomic_number for atom in topology.atoms()]
    module = openmm_range.export(openmm_range.load_model(path), numbers, return_forces=True, dtype=dtype)
    energy, forces = module(torch.tensor(positions, dtype=dtype))
    return float(energy), forces.numpy()


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("backend", ["python", "torchforce"])
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_openmm_equals_module(name, backend, platform, model_files, peptide):
    require_backend(backend)
    topology, positions = peptide
    potential = MLPotential(name, modelPath=str(model_files[name]))
    system = potential.createSystem(topology, backend=backend, precision="double")
    assert backend_in_use(system) == backend
    energy, forces = energy_forces(system, positions, platform)
    ref_energy, ref_forces = module_energy_forces(model_files[name], topology, positions)
    assert abs(ref_forces).max() > 0.1, "the test model exerts no force; the comparison would be empty"
    assert energy == pytest.approx(ref_energy, rel=1e-9, abs=1e-9)
    np.testing.assert_allclose(forces, ref_forces, rtol=1e-7, atol=1e-7 * abs(ref_forces).max())


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("name", ["range-schnet", "range-painn"])
def test_torchforce_and_pythonforce_agree(name, platform, model_files, peptide):
    """Default (saved, float32) precision: the two backends agree to 1e-5 relative."""
    require_backend("torchforce")
    topology, positions = peptide
    potential = MLPotential(name, modelPath=str(model_files[name]))
    results = {backend: energy_forces(potential.createSystem(topology, backend=backend), positions, platform)
               for backend in ("torchforce", "python")}
    (e_tf, f_tf), (e_py, f_py) = results["torchforce"], results["python"]
    assert e_tf == pytest.approx(e_py, rel=1e-5)
    assert np.abs(f_tf - f_py).max() <= 1e-5 * np.abs(f_py).max()


def test_a_force_saved_for_a_gpu_runs_on_the_cpu_where_there_is_none(model_files, peptide):
    """A PythonForce computation made for device 'cuda' (a System built on a GPU machine) and
    unpickled on a machine without a GPU runs on the CPU instead of failing at every step."""
    import pickle

    from openmm_range.openmm.pythonforce_backend import RangeComputation

    topology, positions = peptide
    numbers = [atom.element.atomic_number for atom in topology.atoms()]
    made = RangeComputation(model_files["range-schnet"].read_bytes(), numbers, False, "float64", "cuda:0", False, 1)
    restored = pickle.loads(pickle.dumps(made))
    assert restored.device == ("cuda:0" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        energy, forces = restored.module()(torch.tensor(np.asarray(positions), dtype=torch.float64))
        assert torch.isfinite(energy) and forces.shape == (len(numbers), 3)
