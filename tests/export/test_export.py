"""Exported TorchScript modules: periodic behaviour, overflow handling, unit conversion."""
import pytest
import torch

import openmm_range
from openmm_range.units import ANGSTROM_PER_NM, KJ_PER_MOL_PER_EV
from helpers import random_molecule, small_model


def test_units_at_the_boundary():
    model = small_model("range-schnet")
    z, pos = random_molecule(6, seed=1)
    e_ev, f_ev = model.energy_and_forces(z, pos)
    e_kj, f_kj = openmm_range.export(model, z.tolist(), return_forces=True)(pos / 10.0)
    assert float(e_kj.detach()) == pytest.approx(float(e_ev.detach()) * 96.48533212331, rel=1e-10)
    torch.testing.assert_close(f_kj, f_ev * 964.8533212331, rtol=1e-8, atol=1e-9)
    assert ANGSTROM_PER_NM == 10.0 and KJ_PER_MOL_PER_EV == pytest.approx(96.4853321, rel=1e-9)


@pytest.mark.parametrize("name", ["schnet", "range-schnet", "range-painn"])
def test_periodic_wrap_and_translation_invariance(name):
    model = small_model(name)
    z, pos = random_molecule(10, seed=2)
    box_nm = torch.tensor([[2.5, 0.0, 0.0], [0.4, 2.4, 0.0], [-0.3, 0.5, 2.2]], dtype=torch.float64)
    module = openmm_range.export(model, z.tolist(), periodic=True, return_forces=True)
    x = pos / 10.0 + 0.3
    e0, f0 = module(x, box_nm)
    wrapped = x.clone()
    wrapped[3] += box_nm[0] - 2 * box_nm[2]
    wrapped[7] -= box_nm[1]
    e1, f1 = module(wrapped, box_nm)
    e2, f2 = module(x + torch.tensor([0.77, -1.3, 5.1], dtype=torch.float64), box_nm)
    f_atol = 1e-8 * max(1.0, float(f0.abs().max()))  # rounding scales with the forces (v2 blocks: ~70)
    torch.testing.assert_close(e1, e0, rtol=1e-10, atol=1e-9)
    torch.testing.assert_close(f1, f0, rtol=1e-8, atol=f_atol)
    torch.testing.assert_close(e2, e0, rtol=1e-10, atol=1e-9)
    torch.testing.assert_close(f2, f0, rtol=1e-8, atol=f_atol)
    # a large box reproduces the non-periodic energy
    big = torch.eye(3, dtype=torch.float64) * 50.0
    plain = openmm_range.export(model, z.tolist())
    torch.testing.assert_close(module(x, big)[0], plain(x), rtol=1e-10, atol=1e-9)


def test_periodic_module_needs_box_and_refuses_small_box():
    model = small_model("schnet")
    z, pos = random_molecule(5)
    module = openmm_range.export(model, z.tolist(), periodic=True)
    with pytest.raises(Exception, match="forward\\(positions, box\\)"):
        module(pos / 10)
    with pytest.raises(Exception, match="half the smallest box width"):
        module(pos / 10, torch.eye(3, dtype=torch.float64) * 0.8)
    # unchecked (CUDA-graph capturable): the energy turns NaN instead of being silently wrong
    graph_safe = openmm_range.export(model, z.tolist(), periodic=True, check_errors=False, static_shapes=True)
    assert torch.isnan(graph_safe(pos / 10, torch.eye(3, dtype=torch.float64) * 0.8))
    assert torch.isfinite(graph_safe(pos / 10, torch.eye(3, dtype=torch.float64) * 3.0))


def test_capacity_overflow_is_reported_never_dropped():
    model = small_model("range-schnet")
    z, pos = random_molecule(30, seed=3, spacing=0.9)
    strict = openmm_range.export(model, z.tolist(), max_neighbors=2, static_shapes=True)
    with pytest.raises(Exception, match="neighbour capacity overflow"):
        strict(pos / 10)
    graph_safe = openmm_range.export(model, z.tolist(), max_neighbors=2, check_errors=False, static_shapes=True)
    assert torch.isnan(graph_safe(pos / 10))
    roomy = openmm_range.export(model, z.tolist(), check_errors=False, static_shapes=True)
    assert torch.isfinite(roomy(pos / 10))


def test_metadata_travels_in_the_archive(tmp_path):
    model = small_model("range-painn")
    module = openmm_range.export(model, [6, 1, 1, 1, 1])
    path = tmp_path / "m.pt"
    module.save(str(path))
    import json
    meta = json.loads(torch.jit.load(str(path)).metadata_json)
    assert meta["atomic_numbers"] == [6, 1, 1, 1, 1] and meta["name"] == "range-painn"
    assert meta["output_units"]["energy"] == "kJ/mol"


@pytest.mark.parametrize("periodic", [False, True])
def test_dynamic_pairs_equal_static_pairs(periodic):
    model = small_model("range-schnet")
    z, pos = random_molecule(25, seed=4)
    box = torch.eye(3, dtype=torch.float64) * 2.2 if periodic else None
    args = (pos / 10.0,) + ((box,) if periodic else ())
    static = openmm_range.export(model, z.tolist(), periodic=periodic, return_forces=True, static_shapes=True)
    default = openmm_range.export(model, z.tolist(), periodic=periodic, return_forces=True)
    torch.testing.assert_close(default(*args)[1], static(*args)[1], rtol=1e-8, atol=1e-8)
    dynamic = openmm_range.export(model, z.tolist(), periodic=periodic, return_forces=True, static_shapes=False)
    e0, f0 = static(*args)
    e1, f1 = dynamic(*args)
    torch.testing.assert_close(e1, e0, rtol=1e-10, atol=1e-9)
    torch.testing.assert_close(f1, f0, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("periodic", [False, True])
def test_cell_list_export_equals_all_pairs(periodic):
    import json

    model = small_model("range-schnet")
    z, pos = random_molecule(40, seed=6)
    box = torch.eye(3, dtype=torch.float64) * 1.6 if periodic else None  # 16 Å: 3 cells of 5 Å
    args = (pos / 10.0,) + ((box,) if periodic else ())
    cells = openmm_range.export(model, z.tolist(), periodic=periodic, return_forces=True, neighbor_search="cell-list")
    pairs = openmm_range.export(model, z.tolist(), periodic=periodic, return_forces=True, neighbor_search="all-pairs")
    assert json.loads(cells.metadata_json)["neighbor_search"] == "cell-list"
    e0, f0 = pairs(*args)
    e1, f1 = cells(*args)
    torch.testing.assert_close(e1, e0, rtol=1e-10, atol=1e-9)
    torch.testing.assert_close(f1, f0, rtol=1e-8, atol=1e-8)
    if periodic:  # a box narrower than 3 cutoffs is reported, not computed wrongly
        with pytest.raises(torch.jit.Error, match="narrower than 3 cutoffs"):
            cells(pos / 10.0, torch.eye(3, dtype=torch.float64) * 1.2)
    with pytest.raises(ValueError, match="neighbor_search must be one of"):
        openmm_range.export(model, z.tolist(), neighbor_search="cells")


def test_periodic_molecules_are_made_whole_along_bonds_or_refused():
    """A carbon chain 13.9 Å long in a 25 Å box: its end lies beyond half a box from atom 0. Made
    whole along its bonds the periodic energy is the open one; without bonds it cannot be made
    whole by minimum image, which is refused instead of a silent jump of the energy."""
    model = small_model("range-schnet")
    z = [6] * 11
    pos = torch.tensor([[1.39 * k, 0.3 * (k % 2), 0.0] for k in range(11)], dtype=torch.float64) + 5.0
    box = torch.eye(3, dtype=torch.float64) * 25.0
    bonds = [(k, k + 1) for k in range(10)]
    open_energy = openmm_range.export(model, z)(pos / 10)
    whole = openmm_range.export(model, z, periodic=True, bonds=bonds)
    for shift in (0.0, 12.0):  # the chain inside the box, then across its boundary
        moved = pos + torch.tensor([shift, 0.0, 0.0], dtype=torch.float64)
        wrapped = moved - box[0] * torch.floor(moved[:, :1] / 25.0)
        torch.testing.assert_close(whole(wrapped / 10, box / 10), open_energy, rtol=1e-10, atol=1e-9)
    with pytest.raises(Exception, match="spans more than 0.45 box widths from its first atom"):  # torch.jit.Error
        openmm_range.export(model, z, periodic=True)(pos / 10, box / 10)
    unchecked = openmm_range.export(model, z, periodic=True, check_errors=False, static_shapes=True)
    assert torch.isnan(unchecked(pos / 10, box / 10))


def test_float32_modules_resolve_energy_differences_in_large_regions():
    """1,000 waters with realistic per-element shifts total -1.3e7 kJ/mol, where float32 steps by
    1 kJ/mol: the shifts are summed in float64 and the energy comes back in float64, so a float32
    module still resolves an energy change of a fraction of a kJ/mol (as a barostat needs)."""
    import numpy as np

    model = small_model("schnet")
    hydrogen, oxygen = model.types_from_z(torch.tensor([1, 8])).tolist()
    with torch.no_grad():
        model.readout.shift[hydrogen], model.readout.shift[oxygen] = -14.0, -110.0
    rng = np.random.default_rng(0)
    water = np.array([[0.0, 0.0, 0.0], [0.9572, 0.0, 0.0], [-0.24, 0.9266, 0.0]])
    pos = torch.tensor((rng.uniform(0, 31, size=(1000, 1, 3)) + water).reshape(-1, 3), dtype=torch.float64)
    moved = pos.clone()
    moved[0, 0] += 0.1  # one oxygen moved by 0.1 Å
    z = [8, 1, 1] * 1000
    single, double = (openmm_range.export(model, z, dtype=dtype) for dtype in (torch.float32, torch.float64))
    e32 = [single((x / 10).float()) for x in (pos, moved)]
    e64 = [double(x / 10) for x in (pos, moved)]
    assert e32[0].dtype == torch.float64 and abs(float(e64[0])) > 1e7
    change = float(e64[1] - e64[0])
    assert 0.02 < abs(change) < 5.0
    assert abs(float(e32[1] - e32[0]) - change) < 0.05  # float32 would step by 1 kJ/mol


@pytest.mark.parametrize("activation", ["leaky_relu", "smooth_leaky_relu"])
def test_exported_float64_forces_equal_the_training_path_on_every_call(activation):
    """TorchScript optimises a module after its first calls; the backward of torch's LeakyReLU it
    then runs rounded the 0.2 slope to float32, and float64 forces drifted from the training
    path's by ~5e-10 relative. With the package's own LeakyReLU every call agrees to rounding."""
    torch.manual_seed(0)
    model = openmm_range.create_model("range-schnet", hidden_channels=32, num_heads=4, num_master_nodes=3,
                                      cutoff=4.0, elements=[1, 6, 8], n_min=3, n_max=20, long_range="none",
                                      attention_activation=activation).double()
    with torch.no_grad():  # random weights everywhere (the residual mix starts at zero)
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    z = torch.tensor([6, 1, 1, 1, 8, 1, 8, 1, 1])
    torch.manual_seed(1)
    pos = torch.randn(9, 3, dtype=torch.float64)
    pos[6:] += torch.tensor([5.0, 0.0, 0.0], dtype=torch.float64)
    molecules = [0, 0, 0, 0, 0, 0, 1, 1, 1]
    _, forces = model.energy_and_forces(z, pos, molecules=torch.tensor(molecules))
    module = openmm_range.export(model, z.tolist(), molecules=molecules, return_forces=True)
    for _ in range(4):
        _, exported = module(pos / ANGSTROM_PER_NM)
        exported = exported / (KJ_PER_MOL_PER_EV * ANGSTROM_PER_NM)  # kJ/mol/nm -> eV/Å
        assert ((exported - forces).abs().max() / forces.abs().max()).item() < 1e-13
