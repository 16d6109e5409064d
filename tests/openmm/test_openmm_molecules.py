"""Several molecules in the ML region, through openmm-ml and OpenMM (float64, Reference/CPU).

Molecules come from the topology's bonds (fixed during MD). Far apart they are additive to
<= 0.02 kcal/mol; the mechanical-embedding identity holds with ML waters, periodic and
not; the total ``charge`` is an input, refused when the model never saw it; and NVE
dynamics of a water pulled through the peptide's cutoff conserves energy.
"""
import numpy as np
import openmm
import openmm.app as app
import pytest
import torch
from openmmml import MLPotential

import openmm_range
from openmm_range.units import KJ_PER_KCAL

from openmm_helpers import TINY, energy_forces
from test_openmm_dynamics import R_KJ_PER_MOL_K, run  # noqa: F401  (shared NVE recorder)
from test_openmm_mixed import FORCEFIELD


def mm_system(topology, periodic):
    """amber19 + TIP3P-FB; PME tight enough (1e-7) that its error stays far below ATOL for 31 ML atoms."""
    return app.ForceField(*FORCEFIELD).createSystem(topology, nonbondedMethod=app.PME if periodic else app.NoCutoff,
                                                    ewaldErrorTolerance=1e-7)

BOUND_KJ = 0.02 * KJ_PER_KCAL
ATOL = 0.01  # kJ/mol, as test_openmm_mixed


def head_model_file(directory, charges=(0,), scale=1.0, name="range-schnet", **overrides):
    """A tiny RANGE model whose long-range head has charges of a few tenths of e."""
    torch.manual_seed(4)
    model = openmm_range.create_model(name, **{**TINY, **overrides})
    with torch.no_grad():
        model.long_range.charge_net[-1].weight.normal_(0.0, 0.15)
        model.charge_embed.normal_(0.0, 0.5)
        for layer in model.layers:  # v2 starts as the identity on the atoms: open it (masters act)
            layer.range_block.mix[-1].weight.normal_(0.0, 0.3)
        model.readout.scale.fill_(scale)
    model.config.charges = tuple(charges)
    tag = "".join(f"-{k}={v}" for k, v in sorted(overrides.items()))
    path = directory / f"head-{name}-{'_'.join(map(str, charges))}-x{scale:g}{tag}.pt"
    openmm_range.save_model(model, path)
    return path


def subsystem(pdb, waters, box=False):
    """Topology and positions (nm) of the peptide plus the water residues ``waters`` (indices
    among the waters, taken in file order); with ``box`` the topology keeps the periodic box."""
    keep = {a.index for a in pdb.topology.atoms() if a.residue.chain.index == 0}
    residues = [r for r in pdb.topology.residues() if r.name == "HOH"]
    for k in waters:
        keep.update(a.index for a in residues[k].atoms())
    modeller = app.Modeller(pdb.topology, pdb.positions)
    modeller.delete([a for a in pdb.topology.atoms() if a.index not in keep])
    topology = modeller.getTopology()
    if not box:
        topology.setPeriodicBoxVectors(None)
    return topology, np.array(modeller.getPositions().value_in_unit(openmm.unit.nanometer))


def nearest_waters(pdb, count):
    """Indices (among the HOH residues) of the ``count`` waters closest to the peptide."""
    pos = np.array(pdb.positions.value_in_unit(openmm.unit.nanometer))
    peptide = pos[[a.index for a in pdb.topology.atoms() if a.residue.chain.index == 0]]
    waters = [r for r in pdb.topology.residues() if r.name == "HOH"]
    gaps = [np.linalg.norm(pos[[a.index for a in w.atoms()]][:, None] - peptide[None], axis=-1).min() for w in waters]
    return list(np.argsort(gaps)[:count])


def ml_energy(path, topology, positions, name="range-schnet", **kwargs):
    system = MLPotential(name, modelPath=str(path)).createSystem(topology, precision="double", **kwargs)
    return energy_forces(system, positions, "Reference")[0]


def moved_apart(topology, positions, atoms, gap_nm):
    """Positions with ``atoms`` translated so that their closest approach to the rest is ``gap_nm``."""
    rest = [i for i in range(topology.getNumAtoms()) if i not in set(atoms)]
    direction = positions[atoms].mean(0) - positions[rest].mean(0)
    direction /= np.linalg.norm(direction)
    out = positions.copy()
    now = np.linalg.norm(positions[atoms][:, None] - positions[rest][None], axis=-1).min()
    out[atoms] += (gap_nm - now + 0.5) * direction  # then close in to exactly gap_nm
    for _ in range(60):
        d = np.linalg.norm(out[atoms][:, None] - out[rest][None], axis=-1).min()
        out[atoms] -= (d - gap_nm) * direction
    return out


def test_molecules_come_from_the_topology(alanine_pdb):
    from openmm_range.openmm.topology import ml_molecules

    topology, _ = subsystem(alanine_pdb, [0, 1])
    assert ml_molecules(topology, list(range(topology.getNumAtoms()))) == [0] * 22 + [1] * 3 + [2] * 3
    bare = app.Topology()  # no bonds: RANGE cannot know the molecules -> refused, with the fix named
    chain = bare.addChain()
    for element in ("O", "H", "H"):
        bare.addAtom(element, app.Element.getBySymbol(element), bare.addResidue("HOH", chain))
    with pytest.raises(ValueError, match="has no bond in the topology"):
        ml_molecules(bare, [0, 1, 2])


def test_a_plain_model_needs_no_bonds_a_range_model_does(model_files):
    """Molecules enter only RANGE (master nodes per molecule) and the long-range head: a plain
    SchNet runs on a topology without bonds (a ligand PDB without CONECT records); RANGE refuses it."""
    bare = app.Topology()
    chain = bare.addChain()
    for element in ("O", "H", "H"):
        bare.addAtom(element, app.Element.getBySymbol(element), bare.addResidue("HOH", chain))
    plain = MLPotential("schnet", modelPath=str(model_files["schnet"])).createSystem(bare, backend="python")
    assert plain.getNumParticles() == 3
    with pytest.raises(ValueError, match="has no bond in the topology"):
        MLPotential("range-schnet", modelPath=str(model_files["range-schnet"])).createSystem(bare, backend="python")


@pytest.mark.parametrize("gap_nm", [5.0, 50.0])
def test_a_far_water_is_additive_through_openmm(gap_nm, model_dir, alanine_pdb):
    path = head_model_file(model_dir)
    topology, positions = subsystem(alanine_pdb, nearest_waters(alanine_pdb, 1))
    water = list(range(22, 25))
    far = moved_apart(topology, positions, water, gap_nm)
    peptide_top, peptide_pos = subsystem(alanine_pdb, [])
    water_top, _ = subsystem(alanine_pdb, nearest_waters(alanine_pdb, 1))
    modeller = app.Modeller(water_top, positions)
    modeller.delete([a for a in water_top.atoms() if a.residue.name != "HOH"])
    e_pair = ml_energy(path, topology, far)
    e_sum = ml_energy(path, peptide_top, peptide_pos) + ml_energy(path, modeller.getTopology(), far[water])
    assert abs(e_pair - e_sum) <= BOUND_KJ
    # at contact the water does interact, so the comparison is not trivially zero
    assert abs(ml_energy(path, topology, positions) - ml_energy(path, peptide_top, peptide_pos)
               - ml_energy(path, modeller.getTopology(), positions[water])) > 10 * abs(e_pair - e_sum)


def test_total_charge_is_an_input(model_dir, alanine_pdb):
    """(Charges of 2 keep the dipeptide's 78 electrons even: odd counts are refused, below.)"""
    neutral = head_model_file(model_dir, charges=(0,))
    charged = head_model_file(model_dir, charges=(-2, 0, 2))
    assert openmm_range.serialization.read_metadata(charged)["charges"] == [-2, 0, 2]
    topology, positions = subsystem(alanine_pdb, [])
    with pytest.raises(ValueError, match=r"total charge -2 e .*trained on only neutral molecules"):
        MLPotential("range-schnet", modelPath=str(neutral)).createSystem(topology, charge=-2)
    energies = [ml_energy(charged, topology, positions, charge=q) for q in (-2, 0, 2)]
    assert len(set(energies)) == 3
    with pytest.raises(ValueError, match="charge must be an integer"):
        MLPotential("range-schnet", modelPath=str(charged)).createSystem(topology, charge=0.5)


def test_several_charged_molecules_need_molecule_charges(model_dir, alanine_pdb):
    charged = head_model_file(model_dir, charges=(-2, 0, 2))
    topology, positions = subsystem(alanine_pdb, [0, 1])
    potential = MLPotential("range-schnet", modelPath=str(charged))
    with pytest.raises(ValueError, match="moleculeCharges"):
        potential.createSystem(topology, charge=2)
    e_explicit = ml_energy(charged, topology, positions, charge=0, moleculeCharges=[2, -2, 0])
    e_neutral = ml_energy(charged, topology, positions)
    assert e_explicit != e_neutral
    with pytest.raises(ValueError, match="add up to"):
        potential.createSystem(topology, charge=2, moleculeCharges=[2, -2, 0])
    # molecules given as any labels: moleculeCharges follow the order of each molecule's first atom
    from openmm_range.openmm.topology import ml_molecules

    ids = ml_molecules(topology, list(range(topology.getNumAtoms())))
    assert ml_energy(charged, topology, positions, charge=0, moleculeCharges=[2, -2, 0],
                     molecules=[10 - m for m in ids]) == e_explicit
    with pytest.raises(ValueError, match=r"molecules must be whole numbers >= 0"):
        potential.createSystem(topology, molecules=[-1] * topology.getNumAtoms())


def test_open_shells_and_other_multiplicities_are_refused(model_dir, alanine_pdb):
    """The models have no spin input: a whole molecule with an odd number of electrons (here the
    dipeptide at charge +-1: a radical ion, usually a missing or wrong charge) is refused, and so
    is multiplicity other than 1; a fragment cut out of a molecule for ML/MM is not checked."""
    charged = head_model_file(model_dir, charges=(-1, 0, 1))
    topology, positions = subsystem(alanine_pdb, [0])
    potential = MLPotential("range-schnet", modelPath=str(charged))
    with pytest.raises(ValueError, match="the ML region has 77 electrons at total charge \\+1: an open shell"):
        potential.createSystem(subsystem(alanine_pdb, [])[0], charge=1)
    with pytest.raises(ValueError, match=r"molecule 1 of the ML region \(from atom 22 \(O of HOH.*11 electrons at "
                                         r"total charge -1"):
        potential.createSystem(topology, charge=-1, moleculeCharges=[0, -1])
    with pytest.raises(ValueError, match="multiplicity=3: .*no spin input.*accepted: 1"):
        potential.createSystem(topology, multiplicity=3)
    assert ml_energy(charged, topology, positions, multiplicity=1) == ml_energy(charged, topology, positions)
    # ML/MM on the ACE cap alone, bonded to the MM alanine: a fragment, not checked (23 electrons
    # and openmm-ml's link hydrogen at charge +1 would be refused in a whole molecule)
    peptide = subsystem(alanine_pdb, [])[0]
    mm = app.ForceField(FORCEFIELD[0]).createSystem(peptide)
    cap = [a.index for a in peptide.atoms() if a.residue.name == "ACE"]
    def has_ml_force(system):
        return any(force.getName().startswith("RANGE ") and force.getName().endswith("Force")
                   for force in system.getForces())

    assert has_ml_force(potential.createMixedSystem(peptide, mm, cap, charge=1))
    # molecules for the atoms the user chose: openmm-ml's link hydrogen joins the atom it caps
    assert has_ml_force(potential.createMixedSystem(peptide, mm, cap, charge=1, molecules=[0] * len(cap)))


@pytest.mark.parametrize("periodic", [False, True])
def test_mechanical_embedding_with_ml_waters(periodic, model_dir, alanine_pdb):
    """E_mixed = E_MM(all) - E_MM(ML region) + E_ML(ML region), ML region = peptide + 3 waters.

    Periodic: the ML region's own energy is that of the model under the same box (its
    intermolecular head then switches off smoothly by 0.45 box widths); E_MM(ML region) is
    the isolated region's, as getMLLongRange() == False asks of openmm-ml."""
    path = head_model_file(model_dir)
    waters = nearest_waters(alanine_pdb, 3)
    residues = [r for r in alanine_pdb.topology.residues() if r.name == "HOH"]
    ml = [a.index for a in alanine_pdb.topology.atoms() if a.residue.chain.index == 0]
    ml += [a.index for k in waters for a in residues[k].atoms()]
    topology = alanine_pdb.topology
    if not periodic:  # a copy without the box: the ML force then uses open boundaries too
        copy = app.Modeller(alanine_pdb.topology, alanine_pdb.positions)
        copy.delete([])  # Modeller keeps the caller's Topology object until it is edited
        topology = copy.getTopology()
        topology.setPeriodicBoxVectors(None)
    e_mm_all, _ = energy_forces(mm_system(topology, periodic), alanine_pdb.positions, "Reference")
    topology_ml, positions_ml = subsystem(alanine_pdb, waters)
    e_mm_ml, _ = energy_forces(mm_system(topology_ml, False), positions_ml, "Reference")
    e_ml_ml = ml_energy(path, subsystem(alanine_pdb, waters, box=periodic)[0], positions_ml)
    mixed = MLPotential("range-schnet", modelPath=str(path)).createMixedSystem(
        topology, mm_system(topology, periodic), ml, precision="double")
    energy, _ = energy_forces(mixed, alanine_pdb.positions, "Reference")
    assert energy == pytest.approx(e_mm_all - e_mm_ml + e_ml_ml, abs=ATOL)


def test_moving_an_ml_water_away_changes_only_its_interaction(model_dir, alanine_pdb):
    """Non-periodic ML/MM: a water of the ML region moved 50 Å away adds only its own ML energy."""
    path = head_model_file(model_dir)
    waters = sorted(nearest_waters(alanine_pdb, 3))  # file order: atoms 28-30 are waters[2]
    topology, positions = subsystem(alanine_pdb, waters)
    moved = moved_apart(topology, positions, [28, 29, 30], 5.0)  # the third water
    mm = mm_system(topology, False)
    mixed = MLPotential("range-schnet", modelPath=str(path)).createMixedSystem(
        topology, mm, list(range(topology.getNumAtoms())), forceGroup=1, precision="double")
    e_ml_far, _ = energy_forces(mixed, moved, "Reference", groups={1})
    rest_top, rest_pos = subsystem(alanine_pdb, waters[:2])
    lone = app.Modeller(topology, moved)
    lone.delete([a for a in topology.atoms() if a.index not in (28, 29, 30)])
    e_sum = ml_energy(path, rest_top, rest_pos) + ml_energy(path, lone.getTopology(), moved[28:31])
    assert abs(e_ml_far - e_sum) <= BOUND_KJ


def test_nve_with_a_water_crossing_the_cutoff(model_dir, alanine_pdb):
    """Velocity Verlet, 0.25 fs, float64: a water starts 6.5 Å from the peptide and is pushed
    through the 5 Å cutoff region; the NVE bounds of test_openmm_dynamics.check_nve hold
    (with the smooth attention activation, as the smooth-dynamics NVE test there)."""
    # x10 (not x100 as check_nve): a water flying into a x100 potential makes the Verlet error
    # itself exceed 5 % (it falls as dt^2: measured 69, 23, 7 kJ/mol at 0.25, 0.125, 0.0625 fs)
    path = head_model_file(model_dir, scale=10.0, attention_activation="smooth_leaky_relu")
    topology, positions = subsystem(alanine_pdb, nearest_waters(alanine_pdb, 1))
    water = [22, 23, 24]
    start = moved_apart(topology, positions, water, 0.65)
    system = MLPotential("range-schnet", modelPath=str(path)).createSystem(topology, precision="double")
    dt_ps = 0.25e-3
    integrator = openmm.VerletIntegrator(dt_ps * openmm.unit.picoseconds)
    context = openmm.Context(system, integrator, openmm.Platform.getPlatformByName("Reference"))
    context.setPositions(start)
    context.setVelocitiesToTemperature(300 * openmm.unit.kelvin, 5)
    velocities = context.getState(getVelocities=True).getVelocities(asNumpy=True).value_in_unit(
        openmm.unit.nanometer / openmm.unit.picosecond)
    rest = [i for i in range(topology.getNumAtoms()) if i not in water]
    towards = start[rest].mean(0) - start[water].mean(0)
    velocities[water] += 0.8 * towards / np.linalg.norm(towards)  # 0.8 nm/ps: ~4 Å in 0.5 ps
    context.setVelocities(velocities)
    masses = np.array([system.getParticleMass(i).value_in_unit(openmm.unit.dalton) for i in range(len(start))])
    kinetic, potential, force_term, gaps = [], [], [], []
    for _ in range(200):
        integrator.step(10)
        state = context.getState(getEnergy=True, getPositions=True, getForces=True)
        pos = state.getPositions(asNumpy=True).value_in_unit(openmm.unit.nanometer)
        gaps.append(np.linalg.norm(pos[water][:, None] - pos[rest][None], axis=-1).min())
        kinetic.append(state.getKineticEnergy().value_in_unit(openmm.unit.kilojoule_per_mole))
        potential.append(state.getPotentialEnergy().value_in_unit(openmm.unit.kilojoule_per_mole))
        forces = state.getForces(asNumpy=True).value_in_unit(openmm.unit.kilojoule_per_mole / openmm.unit.nanometer)
        force_term.append(float(np.sum(np.sum(forces**2, axis=1) / masses)))
    assert max(gaps) > 0.5 and min(gaps) < 0.45, (max(gaps), min(gaps))  # it did cross the cutoff region
    total = np.array(kinetic) + np.array(potential)
    deviation = np.abs(total - total[0]).max()
    exchanged = np.std(potential)
    assert exchanged > 5.0
    assert deviation <= 0.05 * exchanged
    assert deviation <= 4 * dt_ps**2 / 12 * max(force_term)


def test_charge_given_to_a_model_that_does_not_read_it_is_warned(model_dir, alanine_pdb, caplog):
    """A plain SchNet trained on charged molecules accepts their charges but has no charge input:
    the energy is the same at any charge, and the user is told so instead of left to believe it
    mattered. A RANGE model reads it: no warning."""
    import logging

    from openmm_helpers import make_model_file

    plain = make_model_file(model_dir, "schnet", charges=[-2, 0, 2])
    topology, positions = subsystem(alanine_pdb, [])
    with caplog.at_level(logging.WARNING, logger="openmm_range"):
        energies = {q: ml_energy(plain, topology, positions, "schnet", charge=q) for q in (-2, 2)}
    assert energies[-2] == energies[2]
    assert "total charge is not an input of this model, so charge=-2 changes nothing" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="openmm_range"):
        ml_energy(head_model_file(model_dir, charges=(-2, 0, 2)), topology, positions, charge=2)
    assert "not an input" not in caplog.text
