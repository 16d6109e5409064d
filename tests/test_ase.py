"""openmm_range.ase.RangeCalculator against the OpenMM path, an ASE optimisation, bad input.

The reference is the real openmm-ml entry point: ``MLPotential(name).createSystem(...,
precision='double', backend='python')`` evaluated in an OpenMM Reference Context, its
energy (kJ/mol) and forces (kJ/mol/nm) converted to eV and eV/Å. Agreement is asked to
1e-6 relative in float64 (forces relative to the largest |F|).
"""
from pathlib import Path

import numpy as np
import openmm
import openmm.app as app
import pytest
import torch
from ase import Atoms
from ase.calculators.calculator import Calculator
from ase.optimize import BFGS
from openmmml import MLPotential

import openmm_range
from openmm_range.ase import RangeCalculator, reduced_frame
from openmm_range.units import ANGSTROM_PER_NM, KJ_PER_MOL_PER_EV

DHA_PDB = Path(openmm_range.__file__).resolve().parent / "resources" / "dha.pdb"
TOLERANCE = 1e-6
#: a tiny untrained model, fast to export, covering DHA (H C O) and water
TINY = dict(cutoff=5.0, hidden_channels=16, num_interactions=2, num_heads=2, num_master_nodes=2, num_rbf=16,
            readout_layers=[16], elements=[1, 6, 7, 8])


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def dha():
    """DHA: (topology, positions (N, 3) nm)."""
    pdb = app.PDBFile(str(DHA_PDB))
    return pdb.topology, np.array(pdb.positions.value_in_unit(openmm.unit.nanometer))


@pytest.fixture(scope="module")
def tiny_model_file(tmp_path_factory):
    torch.manual_seed(3)
    model = openmm_range.create_model("range-schnet", **TINY)
    model.readout.scale.fill_(20.0)  # forces of a trained model's size, so that the comparison is not trivial
    path = tmp_path_factory.mktemp("ase-models") / "tiny-range-schnet.pt"
    openmm_range.save_model(model, path)
    return path


def atoms_of(topology, positions_nm, box_nm=None) -> Atoms:
    """ASE Atoms in the topology's order (Å), periodic with ``box_nm`` (rows) if given."""
    numbers = [atom.element.atomic_number for atom in topology.atoms()]
    if box_nm is None:
        return Atoms(numbers=numbers, positions=positions_nm * ANGSTROM_PER_NM)
    return Atoms(numbers=numbers, positions=positions_nm * ANGSTROM_PER_NM, cell=box_nm * ANGSTROM_PER_NM, pbc=True)


def openmm_energy_forces(name, model_path, topology, positions_nm, box_nm=None):
    """Energy (eV) and forces (N, 3) eV/Å from openmm-ml's createSystem in a Reference Context."""
    if box_nm is not None:
        topology.setPeriodicBoxVectors([openmm.Vec3(*row) for row in box_nm])
    potential = MLPotential(name) if model_path is None else MLPotential(name, modelPath=str(model_path))
    system = potential.createSystem(topology, precision="double", backend="python")
    assert system.usesPeriodicBoundaryConditions() == (box_nm is not None)
    context = openmm.Context(system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference"))
    if box_nm is not None:
        context.setPeriodicBoxVectors(*[openmm.Vec3(*row) for row in box_nm])
    context.setPositions(positions_nm)
    state = context.getState(getEnergy=True, getForces=True)
    energy = state.getPotentialEnergy().value_in_unit(openmm.unit.kilojoule_per_mole) / KJ_PER_MOL_PER_EV
    forces = state.getForces(asNumpy=True).value_in_unit(openmm.unit.kilojoule_per_mole / openmm.unit.nanometer)
    return energy, np.asarray(forces) / (KJ_PER_MOL_PER_EV * ANGSTROM_PER_NM)


def assert_agree(energy, forces, ref_energy, ref_forces):
    assert forces.shape == ref_forces.shape
    assert np.abs(ref_forces).max() > 1e-3, "reference forces are too small to make the comparison meaningful"
    assert abs(energy - ref_energy) <= TOLERANCE * abs(ref_energy), (energy, ref_energy)
    worst = np.abs(forces - ref_forces).max() / np.abs(ref_forces).max()
    assert worst <= TOLERANCE, f"force difference {worst:.2e} of max |F|"


def water_box(n_side: int = 3, spacing: float = 3.4, seed: int = 0):
    """``n_side**3`` randomly oriented waters on a grid: (topology, positions nm, cubic box nm)."""
    rng = np.random.default_rng(seed)
    molecule = np.array([[0.0, 0.0, 0.0], [0.9572, 0.0, 0.0], [-0.2400, 0.9266, 0.0]])  # Å, O H H
    topology = app.Topology()
    chain = topology.addChain()
    positions = []
    for i, j, k in np.ndindex(n_side, n_side, n_side):
        residue = topology.addResidue("HOH", chain)
        o, h1, h2 = (topology.addAtom(name, app.Element.getBySymbol(element), residue)
                     for name, element in (("O", "O"), ("H1", "H"), ("H2", "H")))
        topology.addBond(o, h1)
        topology.addBond(o, h2)
        rotation, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        positions.append(molecule @ rotation.T + spacing * np.array([i, j, k]) + rng.uniform(-0.3, 0.3, 3))
    box = np.eye(3) * spacing * n_side / ANGSTROM_PER_NM
    return topology, np.concatenate(positions) / ANGSTROM_PER_NM, box


def test_is_an_ase_calculator():
    calc = RangeCalculator("range-schnet")
    assert isinstance(calc, Calculator)
    assert {"energy", "forces"} <= set(calc.implemented_properties)


@pytest.mark.parametrize("source", ["shipped", "fresh"])
def test_dha_matches_openmm_in_float64(source, dha, tiny_model_file):
    topology, positions = dha
    model_path = None if source == "shipped" else tiny_model_file
    ref_energy, ref_forces = openmm_energy_forces("range-schnet", model_path, topology, positions)
    atoms = atoms_of(topology, positions)
    atoms.calc = RangeCalculator("range-schnet", modelPath=model_path, precision="double")
    energy, forces = atoms.get_potential_energy(), atoms.get_forces()
    assert_agree(energy, forces, ref_energy, ref_forces)
    assert atoms.get_potential_energy(force_consistent=True) == energy  # free_energy


def test_model_object_gives_the_file_s_numbers(dha, tiny_model_file):
    topology, positions = dha
    atoms = atoms_of(topology, positions)
    atoms.calc = RangeCalculator("range-schnet", modelPath=tiny_model_file, precision="double")
    from_file = atoms.get_potential_energy(), atoms.get_forces()
    atoms.calc = RangeCalculator(openmm_range.load_model(tiny_model_file), precision="double")
    assert atoms.get_potential_energy() == pytest.approx(from_file[0], rel=1e-12)
    np.testing.assert_allclose(atoms.get_forces(), from_file[1], rtol=0, atol=1e-10)


def test_periodic_water_box_matches_openmm():
    topology, positions, box = water_box()
    ref_energy, ref_forces = openmm_energy_forces("range-schnet", None, topology, positions, box)
    calc = RangeCalculator("range-schnet", precision="double")

    atoms = atoms_of(topology, positions, box)
    atoms.calc = calc
    assert_agree(atoms.get_potential_energy(), atoms.get_forces(), ref_energy, ref_forces)

    # Periodicity matters here: the non-periodic energy of the same atoms is different.
    vacuum = atoms_of(topology, positions)
    vacuum.calc = calc
    assert abs(vacuum.get_potential_energy() - ref_energy) > 1e-3

    # The same crystal in a rotated frame, with an unreduced cell and wrapped atoms:
    # same energy, forces rotated with the frame.
    rotation, _ = np.linalg.qr(np.random.default_rng(7).normal(size=(3, 3)))
    cell = box * ANGSTROM_PER_NM
    cell = np.array([cell[0], cell[1] + cell[0], cell[2] - cell[0] + 2 * cell[1]]) @ rotation.T
    moved = Atoms(numbers=atoms.numbers, positions=atoms.positions @ rotation.T, cell=cell, pbc=True)
    moved.wrap()
    moved.calc = calc
    assert_agree(moved.get_potential_energy(), moved.get_forces() @ rotation, ref_energy, ref_forces)

    # A left-handed cell (two vectors swapped) describes the same crystal.
    left = Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell[[1, 0, 2]], pbc=True)
    assert np.linalg.det(left.cell[:]) < 0
    left.calc = calc
    assert_agree(left.get_potential_energy(), left.get_forces(), ref_energy, ref_forces)


def test_large_cell_narrower_than_the_cell_lists_needs_searches_all_pairs():
    """2,100 atoms (the exporter's cell list from 2,000) in a 30 Å cell with a 12 Å cutoff: legal
    (half-width 15 Å), but under the 3 cutoffs the cell list needs. The calculator searches all
    pairs there, as the plugin does (it failed with the cell list's overflow error), and the
    cell repeated twice along z gives twice the energy (a local model: a check that the pairs
    across the cell's faces are found)."""
    torch.manual_seed(0)
    model = openmm_range.create_model("schnet", cutoff=12.0, hidden_channels=8, num_interactions=1, num_rbf=8,
                                      readout_layers=[8], elements=[1, 8])
    rng = np.random.default_rng(0)
    n, width = 2100, 30.0
    numbers = [8] * (n // 3) + [1] * (n - n // 3)
    atoms = Atoms(numbers=numbers, positions=rng.uniform(0, width, size=(n, 3)), cell=[width] * 3, pbc=True)
    atoms.calc = RangeCalculator(model, molecules="single")
    energy = atoms.get_potential_energy()
    double = atoms.repeat((1, 1, 2))  # 4,200 atoms, 30 x 30 x 60 Å
    double.calc = RangeCalculator(model, molecules="single")
    assert np.isfinite(energy)
    assert double.get_potential_energy() == pytest.approx(2 * energy, rel=1e-4)


def test_reduced_frame_keeps_the_lattice():
    cell = np.random.default_rng(1).normal(size=(3, 3)) * 6.0
    box, rotation = reduced_frame(cell)
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
    assert box[0, 1] == box[0, 2] == box[1, 2] == 0.0
    assert (np.diag(box) > 0).all()
    assert abs(box[1, 0]) <= box[0, 0] / 2 + 1e-12 and abs(box[2, 0]) <= box[0, 0] / 2 + 1e-12
    assert abs(box[2, 1]) <= box[1, 1] / 2 + 1e-12
    integer = box @ np.linalg.inv(cell @ rotation.T)  # rows of box as combinations of the rotated cell
    np.testing.assert_allclose(integer, np.round(integer), atol=1e-9)
    assert abs(abs(np.linalg.det(np.round(integer))) - 1.0) < 1e-9  # a basis of the same lattice


def test_short_bfgs_optimisation_lowers_the_energy(dha):
    topology, positions = dha
    atoms = atoms_of(topology, positions)
    calc = RangeCalculator("range-schnet", precision="double")
    atoms.calc = calc
    start = atoms.get_potential_energy()
    start_fmax = np.linalg.norm(atoms.get_forces(), axis=1).max()
    BFGS(atoms, logfile=None).run(fmax=0.05, steps=20)
    forces = atoms.get_forces()
    assert np.isfinite(forces).all()
    assert atoms.get_potential_energy() < start - 1e-3
    assert np.linalg.norm(forces, axis=1).max() < start_fmax
    assert len(calc._modules) == 1  # exported once, reused for every step


def test_unsupported_element_is_named():
    atoms = Atoms("FeCH4", positions=[[0, 0, 0], [2.0, 0, 0], [2.6, 0.9, 0], [2.6, -0.9, 0], [1.5, 0, 0.9],
                                      [1.5, 0, -0.9]])
    atoms.calc = RangeCalculator("range-schnet")
    with pytest.raises(ValueError, match=r"does not support element\(s\) Fe \(atoms 0\).*supported elements: H, C"):
        atoms.get_potential_energy()


@pytest.mark.parametrize("charge", [0.5, "one", True])
def test_charge_must_be_an_integer(charge):
    with pytest.raises(ValueError, match="charge must be an integer"):
        RangeCalculator("range-schnet", charge=charge)


def test_charge_not_seen_in_training_is_refused(dha):
    atoms = atoms_of(*dha)
    seen = openmm_range.read_metadata(openmm_range.openmm.model_files.shipped_model_path("range-schnet"))["charges"]
    charge = max(seen) + 1  # a charge the shipped model never saw
    atoms.calc = RangeCalculator("range-schnet", charge=charge)
    with pytest.raises(ValueError, match=rf"total charge \+{charge} e"):
        atoms.get_potential_energy()


def test_molecules_are_perceived_once_and_far_waters_are_additive(tiny_model_file):
    water = np.array([[0, 0, 0], [0.9572, 0, 0], [-0.24, 0.9266, 0]])
    pair = Atoms("OH2OH2", positions=np.concatenate([water, water + [3.1, 0.4, 0.2]]))
    calc = RangeCalculator("range-schnet", modelPath=str(tiny_model_file), precision="double")
    pair.calc = calc
    pair.get_potential_energy()
    from openmm_range.ase import perceive_molecules

    assert perceive_molecules(pair.numbers, pair.positions) == [0, 0, 0, 1, 1, 1]
    sodium = np.concatenate([water, [[-2.4, 0.0, 0.0]]])  # Na+ at 2.4 Å from the oxygen: an ion, not a bond
    assert perceive_molecules([8, 1, 1, 11], sodium) == [0, 0, 0, 1]
    pair.positions[3:] += [60.0, 0, 0]  # far apart, same molecules (kept from the first structure)
    far = pair.get_potential_energy()
    lone = Atoms("OH2", positions=water)
    lone.calc = RangeCalculator("range-schnet", modelPath=str(tiny_model_file), precision="double")
    single = lone.get_potential_energy()
    lone.positions = pair.positions[3:]
    assert abs(far - single - lone.get_potential_energy()) < 0.02 * 0.0433641  # 0.02 kcal/mol in eV
    assert len(calc._modules) == 1


def test_bad_cells_and_arguments_are_refused():
    water = Atoms("OH2", positions=[[0, 0, 0], [0.9572, 0, 0], [-0.24, 0.9266, 0]], cell=[20, 20, 20])
    water.calc = RangeCalculator("range-schnet")
    water.pbc = [True, True, False]
    with pytest.raises(ValueError, match="partial periodicity"):
        water.get_potential_energy()
    water.pbc = True
    water.set_cell([9.0, 20.0, 20.0])
    with pytest.raises(ValueError, match="too small for the range-schnet model"):
        water.get_potential_energy()
    water.set_cell([20.0, 20.0, 20.0])
    assert np.isfinite(water.get_forces()).all()
    no_cell = Atoms("OH2", positions=water.positions, pbc=True)  # periodic, but no cell: named as such
    no_cell.calc = RangeCalculator("range-schnet")
    with pytest.raises(ValueError, match="is degenerate \\(zero volume\\); set a cell"):
        no_cell.get_potential_energy()
    hydroxyl = Atoms("OH", positions=water.positions[:2])  # 9 electrons at charge 0: an open shell
    hydroxyl.calc = RangeCalculator("range-schnet")
    with pytest.raises(ValueError, match="the structure has 9 electrons at total charge \\+0: an open shell"):
        hydroxyl.get_potential_energy()
    with pytest.raises(ValueError, match="molecules must be whole numbers >= 0"):
        water.calc = RangeCalculator("range-schnet", molecules=[0, 0, -1])
        water.get_potential_energy()
    with pytest.raises(ValueError, match="unknown RANGE potential 'ani2x'"):
        RangeCalculator("ani2x")
    with pytest.raises(ValueError, match="precision"):
        RangeCalculator("range-schnet", precision="half")
    with pytest.raises(ValueError, match="unknown argument"):
        RangeCalculator("range-schnet", cutoff=3.0)
    with pytest.raises(FileNotFoundError, match="modelPath"):
        RangeCalculator("range-schnet", modelPath="/nonexistent/model.pt")
