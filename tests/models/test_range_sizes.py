"""Size-dependent regularisation: N_min/N_max handling and persistence."""
import torch

import openmm_range
from helpers import random_molecule, small_model


def test_single_size_training_set_gives_n_zero():
    model = small_model("range-schnet")
    model.set_size_range(56, 56)
    counts = torch.tensor([10.0, 56.0, 300.0], dtype=torch.float64)
    assert torch.equal(model.normalised_size(counts), torch.zeros(3, dtype=torch.float64))
    block = model.layers[0].range_block
    a = torch.nn.functional.softplus(block.a_raw)
    expected = torch.sigmoid(block.lambda_raw) ** (1 + a)  # gamma = 1 + a_I when n = 0
    torch.testing.assert_close(block.master_scale(torch.zeros(1, dtype=torch.float64))[0, 1:], expected)


def test_size_range_changes_energy_and_survives_save_load(tmp_path):
    model = small_model("range-painn")
    z, pos = random_molecule(10, seed=3)
    model.set_size_range(5, 40)
    e_a = model(z, pos)
    model.set_size_range(10, 11)
    e_b = model(z, pos)
    assert abs(float((e_a - e_b).detach())) > 1e-8  # N_min/N_max really enter the model
    path = tmp_path / "m.pt"
    openmm_range.save_model(model, path)
    meta = openmm_range.read_metadata(path)
    assert (meta["n_min"], meta["n_max"]) == (10, 11)
    loaded = openmm_range.load_model(path)
    assert (loaded.config.n_min, loaded.config.n_max) == (10, 11)
    torch.testing.assert_close(loaded(z, pos), e_b, rtol=0, atol=0)


def test_metadata_contents(tmp_path):
    model = openmm_range.create_model("range-schnet", cutoff=4.0, hidden_channels=32, num_heads=8,
                                      num_master_nodes=2, elements=["H", "C", "O"])
    model.metadata["training_data_hash"] = "abc123"
    path = tmp_path / "m.pt"
    openmm_range.save_model(model, path)
    meta = openmm_range.read_metadata(path)
    assert meta["name"] == "range-schnet" and meta["cutoff"] == 4.0
    assert meta["elements"] == [1, 6, 8]
    assert meta["units"] == {"length": "angstrom", "energy": "eV", "forces": "eV/angstrom"}
    assert meta["hyperparameters"]["num_master_nodes"] == 2 and meta["hyperparameters"]["num_rbf"] is None
    assert meta["package_version"] == openmm_range.__version__
    assert meta["training_data_hash"] == "abc123"
    assert openmm_range.load_model(path).layers[0].range_block.num_master == 2


def test_master_distance_normaliser_is_smooth_when_the_farthest_atom_changes():
    """Forces must not jump when another atom becomes the farthest from the centre (NVE)."""
    from openmm_range.models.atomistic import master_distances

    pos = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [-4.0, 0.0, 0.0], [4.0, 0.0, 0.0]], dtype=torch.float64)
    batch = torch.zeros(4, dtype=torch.long)

    def grad_at(shift, width):
        p = pos.clone()
        p[3, 0] += 1.0 + shift  # atoms 2 and 3 swap the role of the farthest atom at shift = 0
        p.requires_grad_(True)
        r = master_distances(p, batch, 1, width)
        (g,) = torch.autograd.grad(r[1], p)
        return g

    smooth_jump = (grad_at(1e-6, 0.5) - grad_at(-1e-6, 0.5)).abs().max()
    hard_jump = (grad_at(1e-6, 0.0) - grad_at(-1e-6, 0.0)).abs().max()
    assert float(hard_jump) > 1e-3  # the paper's hard maximum has a kink here...
    assert float(smooth_jump) < 1e-6  # ...the smooth maximum does not
    r = master_distances(pos, batch, 1, 0.5)
    assert float(r.max()) < 1.0 and float(r.min()) >= 0.0


def test_a_file_from_before_the_later_options_loads_as_it_was_trained(tmp_path):
    """A RANGE model file written before range_form, range_scope, master_smooth_width and the
    long-range head existed holds none of those keys; it must load as the model it was then (the
    paper's block over the whole structure with the hard maximum), not with today's defaults."""
    import json

    model = small_model("range-schnet", range_form="paper", range_scope="structure", master_smooth_width=0.0,
                        long_range="none")
    z, pos = random_molecule(12, seed=5)
    path = tmp_path / "old.pt"
    openmm_range.save_model(model, path)
    payload = torch.load(path, weights_only=True)
    meta = json.loads(payload["metadata"])
    for key in ("range_form", "range_scope", "master_smooth_width", "long_range"):
        del meta["hyperparameters"][key]
    payload["metadata"] = json.dumps(meta)
    torch.save(payload, path)
    old = openmm_range.load_model(path)
    assert old.config.master_smooth_width == 0.0 and old.config.range_form == "paper"
    assert torch.equal(old(z, pos).detach(), model(z, pos).detach())
