"""Units at the OpenMM boundary: nm -> Å on the way in, eV -> kJ/mol on the way out.

The reference is the model itself, called in its internal units (Å, eV). The factors
are written here independently of openmm_range.units so that a wrong factor there,
or a missing/duplicated conversion anywhere on the path, fails a test.
"""
import numpy as np
import pytest
import torch
from openmmml import MLPotential

import openmm_range

from openmm_helpers import energy_forces

ANGSTROM_PER_NANOMETRE = 10.0
KJ_PER_MOL_PER_EV = 96.485332  # CODATA: e * N_A / 1000


@pytest.fixture(scope="module")
def setup(model_files, peptide):
    topology, positions = peptide
    path = model_files["range-schnet"]
    system = MLPotential("range-schnet", modelPath=str(path)).createSystem(topology, backend="python",
                                                                           precision="double")
    energy, forces = energy_forces(system, positions, "Reference")
    model = openmm_range.load_model(path).double()
    numbers = torch.tensor([a.element.atomic_number for a in topology.atoms()])
    return model, numbers, positions, energy, forces


def test_positions_enter_in_nanometres(setup):
    """Input direction: OpenMM's nm positions reach the model as Å (x10)."""
    model, numbers, positions, energy, _ = setup
    with torch.no_grad():
        in_angstrom = float(model(numbers, torch.tensor(positions * ANGSTROM_PER_NANOMETRE))[0])
        unconverted = float(model(numbers, torch.tensor(positions))[0])
    # The check is only meaningful if a wrong length factor would change the energy.
    assert abs(unconverted - in_angstrom) * KJ_PER_MOL_PER_EV > 1e-3
    assert energy == pytest.approx(in_angstrom * KJ_PER_MOL_PER_EV, rel=1e-6)


def test_energy_and_forces_leave_in_kj_per_mol(setup):
    """Output direction: eV -> kJ/mol (x96.485) and eV/Å -> kJ/mol/nm (x964.85)."""
    model, numbers, positions, energy, forces = setup
    energy_ev, forces_ev_per_a = model.energy_and_forces(numbers, torch.tensor(positions * ANGSTROM_PER_NANOMETRE))
    assert energy == pytest.approx(float(energy_ev[0].detach()) * KJ_PER_MOL_PER_EV, rel=1e-6)
    expected = forces_ev_per_a.detach().numpy() * KJ_PER_MOL_PER_EV * ANGSTROM_PER_NANOMETRE
    assert np.abs(expected).max() > 0.1
    np.testing.assert_allclose(forces, expected, rtol=1e-6, atol=1e-6 * np.abs(expected).max())
