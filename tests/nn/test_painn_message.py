"""PaiNN's first message block skips the term of its (always zero) input vectors; nothing changes."""
import pytest
import torch

import openmm_range


@pytest.mark.parametrize("name", ["painn", "range-painn"])
def test_first_layer_skip_changes_no_number(name):
    torch.manual_seed(0)
    model = openmm_range.create_model(name, cutoff=4.0, hidden_channels=16, elements=[1, 6, 8])
    messages = [layer.message for layer in model.representation.local_layers]
    assert [m.zero_vectors for m in messages] == [True] + [False] * (len(messages) - 1)
    z = torch.tensor([8, 1, 1, 6, 1, 1, 1, 1])
    pos = torch.randn(8, 3, dtype=torch.float64) * 1.3
    model = model.double()

    def run(skip):
        messages[0].zero_vectors = skip
        model.zero_grad()
        energy, forces = model.energy_and_forces(z, pos, create_graph=True)
        (energy.sum() + (forces ** 2).sum()).backward()
        return [energy.detach(), forces.detach()] + [p.grad.clone() for p in model.parameters() if p.grad is not None]

    for a, b in zip(run(True), run(False)):
        assert torch.equal(a, b)
    # later layers' vectors are not zero: skipping their term would change the forces
    reference = run(True)[1]
    messages[1].zero_vectors = True
    assert not torch.allclose(run(True)[1], reference)
