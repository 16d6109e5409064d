"""Molecules and long range (docs/architecture.md, "Molecules and long range"), in float64:

* far-apart neutral molecules are additive to <= 0.02 kcal/mol at a 50 Å gap, -> 0 beyond;
* far-apart ions approach the Coulomb energy of their total charges;
* the energy is smooth as one molecule is pulled through the other's cutoff;
* charges not seen in training are refused; the exported module equals the eager model.
"""
import math

import numpy as np
import pytest
import torch
from rdkit import Chem
from rdkit.Chem import AllChem

import openmm_range
from openmm_range.units import EV_PER_KCAL_PER_MOL

from helpers import small_model

BOUND_KCAL = 0.02  # the separation bound, kcal/mol
SMILES = {"water": "O", "methanol": "CO", "nma": "CNC(C)=O", "acetone": "CC(C)=O",
          "acetate": "CC(=O)[O-]", "methylammonium": "C[NH3+]"}
NEUTRAL_PAIRS = [("water", "water"), ("methanol", "nma"), ("nma", "acetone")]


def molecule(name, seed=7):
    """(z (n,), positions (n, 3) Å, formal charge) of an ETKDG conformer, centred."""
    mol = Chem.AddHs(Chem.MolFromSmiles(SMILES[name]))
    AllChem.EmbedMolecule(mol, randomSeed=seed)
    pos = torch.tensor(mol.GetConformer().GetPositions(), dtype=torch.float64)
    z = torch.tensor([a.GetAtomicNum() for a in mol.GetAtoms()])
    return z, pos - pos.mean(0), Chem.GetFormalCharge(mol)


def place(pos_a, pos_b, gap, direction=(1.0, 0.3, -0.2)):
    """pos_b shifted along ``direction`` so that the closest atoms of A and B are ``gap`` Å apart."""
    u = torch.tensor(direction, dtype=torch.float64)
    u = u / u.norm()
    lo, hi = 0.0, gap + 50.0
    for _ in range(100):  # bisection on the shift
        mid = 0.5 * (lo + hi)
        if float(torch.cdist(pos_a, pos_b + mid * u).min()) < gap:
            lo = mid
        else:
            hi = mid
    return pos_b + hi * u


def long_range_model(**overrides):
    """A small RANGE model whose long-range head gives molecular dipoles of a few debye."""
    model = small_model("range-schnet", **overrides)
    with torch.no_grad():
        if model.long_range is not None:
            model.long_range.charge_net[-1].weight.normal_(0.0, 0.15, generator=torch.Generator().manual_seed(3))
        model.charge_embed.normal_(0.0, 0.5) if model.use_charge else None
    model.config.charges = (-1, 0, 1)
    return model


def dipole_debye(model, z, pos):
    """|sum_i q_i x_i| of the head's charges, in debye (1 D = 0.2081943 e Å)."""
    group = torch.zeros(len(z), dtype=torch.long)
    with torch.no_grad():
        captured = []
        hook = model.long_range.register_forward_hook(lambda _m, _a, out: captured.append(out[1]))
        model(z, pos, molecules=group)
        hook.remove()
    return float((captured[0].unsqueeze(-1) * pos).sum(0).norm()) / 0.2081943


def interaction(model, a, b, gap, charges=(0, 0)):
    """E(A+B) - E(A) - E(B) in eV, with A and B marked as two molecules."""
    (za, pa, _), (zb, pb, _) = a, b
    pos = torch.cat([pa, place(pa, pb, gap)])
    z = torch.cat([za, zb])
    mol = torch.cat([torch.zeros(len(za), dtype=torch.long), torch.ones(len(zb), dtype=torch.long)])
    with torch.no_grad():
        e_ab = model(z, pos, molecules=mol, charges=torch.tensor(charges))
        e_a = model(za, pa, charges=torch.tensor(charges[:1]))
        e_b = model(zb, pb, charges=torch.tensor(charges[1:]))
    return float(e_ab - e_a - e_b)


@pytest.mark.parametrize("pair", NEUTRAL_PAIRS)
def test_far_apart_neutral_molecules_are_additive(pair):
    model = long_range_model()
    a, b = molecule(pair[0]), molecule(pair[1], seed=11)
    # the head's dipoles are of real molecules' size (water 1.9 D, NMA 3.7 D), not vanishing
    assert all(0.5 < dipole_debye(model, m[0], m[1]) < 8.0 for m in (a, b))
    values = {gap: abs(interaction(model, a, b, gap)) / EV_PER_KCAL_PER_MOL for gap in (50.0, 500.0, 5000.0)}
    assert values[50.0] <= BOUND_KCAL, values
    assert values[5000.0] <= 1e-6 and values[5000.0] < values[500.0] < values[50.0], values
    # the head really acts: at contact range the molecules do interact
    assert abs(interaction(model, a, b, 3.0)) / EV_PER_KCAL_PER_MOL > 10 * values[50.0]


def test_one_master_set_per_structure_is_not_additive():
    """The paper's scope (masters over the whole structure) breaks the bound: the test can fail."""
    model = long_range_model(range_scope="structure", long_range="none")
    a, b = molecule("methanol"), molecule("nma", seed=11)
    assert abs(interaction(model, a, b, 50.0)) / EV_PER_KCAL_PER_MOL > BOUND_KCAL


#: e^2 / (4 pi eps0) in eV Å, from CODATA 2018 SI values (not from the package's units module)
COULOMB_EV_ANGSTROM = 1.602176634e-19 / (4 * math.pi * 8.8541878128e-12 * 1e-10)


def test_far_apart_ions_approach_coulomb():
    model = long_range_model()
    a, b = molecule("acetate"), molecule("methylammonium", seed=11)
    assert (a[2], b[2]) == (-1, 1)
    for gap in (100.0, 400.0):
        pos_b = place(a[1], b[1], gap)
        distance = float((pos_b.mean(0) - a[1].mean(0)).norm())
        coulomb = -COULOMB_EV_ANGSTROM / distance
        assert interaction(model, a, b, gap, charges=(-1, 1)) == pytest.approx(coulomb, rel=0.03)


def test_charges_not_seen_in_training_are_refused():
    model = long_range_model()
    model.config.charges = (0,)
    z, pos, _ = molecule("acetate")
    with pytest.raises(ValueError, match=r"total charge -1 e .* only neutral molecules"):
        model(z, pos, charges=torch.tensor([-1]))
    with pytest.raises(ValueError, match="only neutral molecules"):
        openmm_range.export(model, z.tolist(), charges=[-1])


def test_charge_enters_the_master_nodes():
    model = long_range_model()
    z, pos, _ = molecule("acetate")
    with torch.no_grad():
        energies = [float(model(z, pos, charges=torch.tensor([q]))) for q in (-1, 0, 1)]
    assert len(set(energies)) == 3


def test_pulling_one_molecule_through_the_cutoff_is_smooth():
    """Centre distance 12 -> 3.5 Å in 0.01 Å steps: the force along the path matches central
    finite differences of the energy to 5 % of (0.5 kcal/mol/Å + |F|)."""
    model = long_range_model()
    with torch.no_grad():
        model.readout.scale.mul_(10.0)  # stronger local interactions, so that forces do real work
    (za, pa, _), (zb, pb, _) = molecule("methanol"), molecule("nma", seed=11)
    u = torch.tensor([0.8, 0.5, 0.33], dtype=torch.float64)
    u = u / u.norm()
    z = torch.cat([za, zb])
    mol = torch.cat([torch.zeros(len(za), dtype=torch.long), torch.ones(len(zb), dtype=torch.long)])
    h = 0.01
    distances = np.arange(12.0, 3.5 - h / 2, -h)
    energies, along = [], []
    for d in distances:
        pos = torch.cat([pa, pb + float(d) * u]).requires_grad_(True)
        energy, forces = model.energy_and_forces(z, pos, molecules=mol)
        energies.append(float(energy.detach()))
        along.append(float((forces[len(za):] * u).sum()))  # -dE/dd
    energies, along = np.array(energies) / EV_PER_KCAL_PER_MOL, np.array(along) / EV_PER_KCAL_PER_MOL
    fd = -(energies[:-2] - energies[2:]) / (2 * h)  # -dE/dd at the interior points (d decreases along the path)
    error = np.abs(fd - along[1:-1])
    assert np.ptp(energies) > 1.0, "the molecules barely interact along the path: the test would prove nothing"
    assert np.all(error <= 0.05 * (0.5 + np.abs(along[1:-1]))), float(error.max())


@pytest.mark.parametrize("periodic", [False, True])
def test_export_matches_the_model_with_molecules(periodic):
    model = long_range_model()
    (za, pa, _), (zb, pb, _) = molecule("acetate"), molecule("water", seed=11)
    pos = torch.cat([pb[:1], pa, place(pa, pb, 3.0)[1:]])  # molecules need not be contiguous
    pos[0] = place(pa, pb, 3.0)[0]
    z = torch.cat([zb[:1], za, zb[1:]])
    mol = torch.tensor([1] + [0] * len(za) + [1] * (len(zb) - 1))
    charges = [-1, 0]
    box = torch.eye(3, dtype=torch.float64) * 16.0 if periodic else None
    with torch.no_grad():
        eager = float(model(z, pos, box=box, molecules=mol, charges=torch.tensor(charges)))
    module = openmm_range.export(model, z.tolist(), periodic=periodic, molecules=mol.tolist(), charges=charges)
    args = (pos / 10.0,) if box is None else (pos / 10.0, box / 10.0)
    assert float(module(*args)) / 96.48533212331 == pytest.approx(eager, rel=1e-10, abs=1e-10)


def test_periodic_head_switches_off_smoothly_before_half_the_box():
    """Under periodic boundaries the intermolecular terms vanish smoothly by 0.45 box widths
    (27 Å in a 60 Å box), whichever image is nearest."""
    model = long_range_model()
    (za, pa, _), (zb, pb, _) = molecule("water"), molecule("water", seed=11)
    z = torch.cat([za, zb])
    mol = torch.cat([torch.zeros(3, dtype=torch.long), torch.ones(3, dtype=torch.long)])
    box = torch.eye(3, dtype=torch.float64) * 60.0
    u = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    with torch.no_grad():
        near = float(model(z, torch.cat([pa, pb + 8.0 * u]), box=box, molecules=mol))
        far = [float(model(z, torch.cat([pa, pb + d * u]), box=box, molecules=mol)) for d in (29.0, 30.0, 31.0)]
        alone = float(model(za, pa) + model(zb, pb))
    assert far[0] == pytest.approx(alone, abs=1e-12) and far[2] == pytest.approx(alone, abs=1e-12)
    assert abs(near - alone) > 1e-6
    # batched with a structure in a smaller box, a structure keeps its own switch radius
    pair = torch.cat([pa, pb + 8.0 * u])
    with torch.no_grad():
        batched = model(torch.cat([z, z]), torch.cat([pair, pair]), torch.repeat_interleave(torch.arange(2), 6),
                        box=torch.stack([box, torch.eye(3, dtype=torch.float64) * 17.0]),
                        molecules=torch.cat([mol, mol + 2]))
    assert float(batched[0]) == pytest.approx(near, abs=1e-10)  # 8 Å apart: switched off by 0.45 x 17 = 7.65 Å
    assert abs(float(batched[1]) - near) > 1e-6                 # only in the 17 Å box


def test_switch_off_is_the_documented_fraction_of_the_box():
    """default_switch_off repeats SWITCH_OFF_BOX_FRACTION as a literal (TorchScript reads no globals)."""
    from openmm_range.models.atomistic import SWITCH_OFF_BOX_FRACTION, default_switch_off

    assert float(default_switch_off(torch.tensor(40.0, dtype=torch.float64))) == pytest.approx(
        40.0 * SWITCH_OFF_BOX_FRACTION, rel=1e-12)


def test_export_refuses_a_quadratic_pair_list_it_cannot_hold():
    """The long-range head acts on every atom pair of different molecules: 1,500 ML waters make
    10.1 million pairs, refused at export with advice; a model without the head builds none."""
    from openmm_range.export.exported import MAX_INTERMOLECULAR_PAIRS

    z = [8, 1, 1] * 1500
    molecules = [k // 3 for k in range(len(z))]
    assert (len(z) ** 2 - 1500 * 9) // 2 > MAX_INTERMOLECULAR_PAIRS
    with pytest.raises(ValueError, match=r"1500 molecules of these 4500 atoms make 10,118,250 intermolecular"):
        openmm_range.export(long_range_model(), z, molecules=molecules)
    plain = long_range_model(long_range="none")
    assert openmm_range.export(plain, z[:30], molecules=molecules[:30]).inter_src.numel() == 0
    assert openmm_range.export(long_range_model(), z[:30], molecules=molecules[:30]).inter_src.numel() == (900 - 90) // 2


def test_intermolecular_pairs_with_a_gap_in_the_structure_indices():
    """A batch whose structure 1 is empty (indices 0 and 2 only): structure 0's two molecules
    still interact (a shortcut compared the largest group and structure indices, which a gap
    made equal, and returned no pair)."""
    from openmm_range.models.atomistic import intermolecular_pairs

    src, dst = intermolecular_pairs(torch.tensor([0, 0, 2, 2]), torch.tensor([0, 1, 2, 2]))
    assert (src.tolist(), dst.tolist()) == ([0], [1])
    src, dst = intermolecular_pairs(torch.tensor([0, 0, 2, 2]), torch.tensor([0, 0, 1, 1]))
    assert (src.tolist(), dst.tolist()) == ([], [])


def test_training_path_refuses_a_structure_it_cannot_make_whole():
    """Without bonds, a molecule is made whole by minimum image from its first atom; an atom 0.46
    box widths away is near the jump of that image, and is refused (the centre jumped silently)."""
    from openmm_range.models.atomistic import make_whole

    box = torch.eye(3, dtype=torch.float64) * 12.0
    pos = torch.tensor([[0.5, 0.5, 0.5], [1.5, 0.5, 0.5], [11.8, 0.5, 0.5]], dtype=torch.float64)
    whole = make_whole(pos, torch.zeros(3, dtype=torch.long), 1, box)
    assert whole[2, 0].item() == pytest.approx(-0.2)  # across the face: made whole
    far = pos.clone()
    far[2, 0] = 0.5 + 0.46 * 12.0
    with pytest.raises(ValueError, match="spans more than 0.45 box widths from its first atom"):
        make_whole(far, torch.zeros(3, dtype=torch.long), 1, box)
