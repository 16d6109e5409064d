"""Periodic systems: the energy ignores wrapping into other images and global translation.

RANGE's master nodes are placed at the centre of the molecule made whole along its bonds,
and the local part uses minimum-image neighbours; so a molecule split across the boundary
has the energy of the whole one, and a box in which the molecule does not meet its own image
within the cutoff gives the non-periodic energy.
"""
import numpy as np
import openmm
import pytest
from openmmml import MLPotential

from openmm_helpers import PLATFORMS, peptide_only, require_backend

BOXES = {  # nm, rows = box vectors in OpenMM's reduced triclinic form
    "cubic": np.array([[3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 3.0]]),
    "triclinic": np.array([[3.0, 0.0, 0.0], [0.8, 2.9, 0.0], [-0.7, 0.9, 2.8]]),
}


def wrap_into_box(positions, box):
    """Every atom moved into the primary cell (fractional coordinates in [0, 1))."""
    fractional = positions @ np.linalg.inv(box)
    return (fractional - np.floor(fractional)) @ box


@pytest.fixture(scope="module")
def vacuum_energy(model_files, alanine_pdb):
    topology, positions = peptide_only(alanine_pdb)
    system = MLPotential("range-schnet", modelPath=str(model_files["range-schnet"])).createSystem(
        topology, backend="python", precision="double")
    context = openmm.Context(system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference"))
    context.setPositions(positions)
    return positions, context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(
        openmm.unit.kilojoule_per_mole)


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("backend", ["python", "torchforce"])
@pytest.mark.parametrize("box_name", sorted(BOXES))
def test_energy_is_wrap_and_translation_invariant(box_name, backend, platform, model_files, alanine_pdb,
                                                  vacuum_energy):
    require_backend(backend)
    box = BOXES[box_name]
    topology, _ = peptide_only(alanine_pdb, periodic=True)
    topology.setPeriodicBoxVectors([openmm.Vec3(*row) for row in box])
    system = MLPotential("range-schnet", modelPath=str(model_files["range-schnet"])).createSystem(
        topology, backend=backend, precision="double")
    assert system.usesPeriodicBoundaryConditions()
    context = openmm.Context(system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName(platform))
    context.setPeriodicBoxVectors(*[openmm.Vec3(*row) for row in box])

    def energy(positions):
        context.setPositions(positions)
        return context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(openmm.unit.kilojoule_per_mole)

    positions, e_vacuum = vacuum_energy
    centred = positions - positions.mean(axis=0) + box.sum(axis=0) / 2
    e_whole = energy(centred)
    assert e_whole == pytest.approx(e_vacuum, rel=1e-8, abs=1e-8)

    translated = centred + np.array([0.37, -1.21, 2.05])
    assert energy(translated) == pytest.approx(e_whole, rel=1e-8, abs=1e-8)

    imaged = centred.copy()
    imaged[0] += box[0]  # atom 0 anchors the master-node image choice: move it too
    imaged[5] -= box[1] + box[2]
    imaged[-1] += 2 * box[2] - box[0]
    assert energy(imaged) == pytest.approx(e_whole, rel=1e-8, abs=1e-8)

    split = wrap_into_box(centred - centred.mean(axis=0), box)  # centre on a box corner: split 8 ways
    assert np.ptp(split, axis=0).max() > 0.5 * np.diag(box).min(), "the molecule is not actually split"
    assert energy(split) == pytest.approx(e_whole, rel=1e-8, abs=1e-8)


def _peptide_in_box(model_files, alanine_pdb, box):
    """(topology, positions nm, Reference context in float64) of the peptide alone in ``box`` (nm)."""
    topology, positions = peptide_only(alanine_pdb, periodic=True)
    topology.setPeriodicBoxVectors([openmm.Vec3(*row) for row in box])
    system = MLPotential("range-schnet", modelPath=str(model_files["range-schnet"])).createSystem(
        topology, backend="python", precision="double")
    context = openmm.Context(system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference"))
    context.setPeriodicBoxVectors(*[openmm.Vec3(*row) for row in box])
    return topology, positions, context


def test_periodic_output_keeps_the_ml_molecule_whole(model_files, alanine_pdb):
    """OpenMM wraps output positions (enforcePeriodicBox, DCD) molecule by molecule, finding the
    molecules through the bonds that forces report: the plugin reports the ML region's bonds, so a
    molecule across the boundary comes out whole, with every bond at its length."""
    topology, positions, context = _peptide_in_box(model_files, alanine_pdb, BOXES["cubic"])
    corner = positions - positions.mean(axis=0)  # centred on a box corner: the molecule straddles it
    context.setPositions(corner)
    out = context.getState(getPositions=True, enforcePeriodicBox=True).getPositions(asNumpy=True)._value
    bonds = np.array([(a.index, b.index) for a, b in topology.bonds()])
    lengths = np.linalg.norm(corner[bonds[:, 0]] - corner[bonds[:, 1]], axis=1)
    assert np.allclose(np.linalg.norm(out[bonds[:, 0]] - out[bonds[:, 1]], axis=1), lengths, atol=1e-6)
    assert not np.allclose(out, corner)  # it was moved into the box, as one piece


def test_a_molecule_longer_than_half_the_box_is_made_whole_along_its_bonds(model_files, alanine_pdb, vacuum_energy):
    """The peptide reaches 0.88 nm from atom 0 along y; in a box 1.45 nm high (0.57 nm clear of its
    own image, more than the cutoff) its far atoms lie beyond half a box width from atom 0, where
    the minimum image relative to atom 0 would put them on the wrong side. Made whole along the
    topology's bonds it keeps its vacuum energy, wrapped or not."""
    box = np.diag([3.0, 1.45, 3.0])
    _, _, context = _peptide_in_box(model_files, alanine_pdb, box)
    positions, e_vacuum = vacuum_energy
    centred = positions - positions.mean(axis=0) + box.sum(axis=0) / 2
    assert (np.abs(centred - centred[0]) @ np.linalg.inv(box)).max() > 0.55  # beyond half a box from atom 0
    for placed in (centred, wrap_into_box(centred - centred.mean(axis=0), box)):
        context.setPositions(placed)
        energy = context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(openmm.unit.kilojoule_per_mole)
        assert energy == pytest.approx(e_vacuum, rel=1e-8, abs=1e-8)


def test_a_large_region_in_a_box_narrower_than_three_cutoffs(model_files):
    """From 2,000 atoms on the exporter's cell list would be chosen, which needs a box 3 cutoffs
    wide; in a narrower one (here 2.8 cutoffs) the plugin uses the all-pairs search instead of a
    neighbour-search error at the first step. Its periodic images are right: shifting every atom
    by half a box and wrapping changes which pairs cross the faces, not the energy."""
    from openmm import app

    n_waters, width = 667, 1.4  # 2,001 atoms in a 1.4 nm box; the model's cutoff is 0.5 nm
    topology = app.Topology()
    chain = topology.addChain()
    for _ in range(n_waters):
        residue = topology.addResidue("HOH", chain)
        o = topology.addAtom("O", app.element.oxygen, residue)
        for name in ("H1", "H2"):
            topology.addBond(o, topology.addAtom(name, app.element.hydrogen, residue))
    topology.setPeriodicBoxVectors([openmm.Vec3(width, 0, 0), openmm.Vec3(0, width, 0), openmm.Vec3(0, 0, width)])
    rng = np.random.default_rng(0)
    water = np.array([[0.0, 0.0, 0.0], [0.09572, 0.0, 0.0], [-0.024, 0.09266, 0.0]])
    positions = (rng.uniform(0, width, size=(n_waters, 1, 3)) + water).reshape(-1, 3)
    system = MLPotential("schnet", modelPath=str(model_files["schnet"])).createSystem(topology, backend="python")
    context = openmm.Context(system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference"))
    energies = []
    for placed in (positions, wrap_into_box(positions + [width / 2, width / 3, 0.0], np.diag([width] * 3))):
        context.setPositions(placed)
        energies.append(context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(
            openmm.unit.kilojoule_per_mole))
    assert np.isfinite(energies[0]) and energies[1] == pytest.approx(energies[0], rel=1e-6)



def test_a_placeholder_box_is_refused_naming_where_it_came_from(model_files, alanine_pdb):
    """Docking and conversion tools often write ``CRYST1 1.000 1.000 1.000``, which OpenMM reads as
    a 1 Å periodic box: the error says the box is the topology's and how to drop it."""
    import openmm.unit as unit

    topology, _ = peptide_only(alanine_pdb)  # a topology of its own (the box is set on it)
    topology.setPeriodicBoxVectors([openmm.Vec3(0.1, 0, 0), openmm.Vec3(0, 0.1, 0), openmm.Vec3(0, 0, 0.1)]
                                   * unit.nanometer)
    with pytest.raises(ValueError, match=r"too small for the range-schnet model.*half the smallest box width "
                                         r"\(0\.500 Å\)\. The box is the topology's box \(a PDB's CRYST1.*"
                                         r"setPeriodicBoxVectors\(None\)"):
        MLPotential("range-schnet", modelPath=str(model_files["range-schnet"])).createSystem(topology)
