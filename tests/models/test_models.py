"""The model test suite applied to every architecture in the registry."""
import pytest
import torch

from openmm_range.registry import MODEL_NAMES, RANGE_MODEL_NAMES
from helpers import small_model
from model_suite import ModelTestSuite


class TestAllModels(ModelTestSuite):
    @pytest.fixture(params=MODEL_NAMES)
    def model_name(self, request):
        return request.param


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_far_atom_reaches_atom_zero_only_through_range(name):
    """Atom 19 sits > 2 x interactions x cutoff from atom 0: only RANGE lets it move atom 0's force."""
    model = small_model(name, cutoff=3.0, num_interactions=2)
    n = 20
    pos = torch.zeros(n, 3, dtype=torch.float64)
    pos[:, 0] = torch.arange(n, dtype=torch.float64) * 1.5
    pos[1::2, 1] = 0.4  # zig-zag chain
    z = torch.tensor([6, 1] * (n // 2))
    assert float(pos[-1].norm()) > 2 * 2 * 3.0
    _, f0 = model.energy_and_forces(z, pos)
    moved = pos.clone()
    moved[-1] += torch.tensor([0.3, 0.2, -0.1], dtype=torch.float64)
    _, f1 = model.energy_and_forces(z, moved)
    change = float((f1[0] - f0[0]).abs().max())
    if name in RANGE_MODEL_NAMES:
        assert change > 1e-8
    else:
        assert change == 0.0
