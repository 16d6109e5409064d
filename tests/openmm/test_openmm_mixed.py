"""Mixed ML/MM systems through openmm-ml's mechanical embedding.

Alanine dipeptide (ML) in TIP3P-FB water (MM, amber19), as in openmm-ml's own tests:
``E_mixed = E_MM(all) - E_MM(ML region) + E_ML(ML region)`` within 0.01 kJ/mol, with
and without interpolation, periodic (PME) and not. The RANGE potential reports
``getMLLongRange() == False``, so periodic systems need no ``mlLongRange`` argument and
E_MM(ML region) is the isolated region's energy (no periodic images).
"""
from functools import lru_cache

import numpy as np
import openmm
import openmm.app as app
import pytest
import torch
from openmmml import MLPotential

import openmm_range
from openmm_range.openmm.simulation import backend_in_use

from openmm_helpers import ALANINE_PDB, PLATFORMS, energy_forces, peptide_only, require_backend

FORCEFIELD = ("amber19-all.xml", "amber19/tip3pfb.xml")
ATOL = 0.01  # kJ/mol


def ml_atoms(topology):
    return [atom.index for atom in topology.atoms() if atom.residue.chain.index == 0]


def mm_system(topology, periodic):
    return app.ForceField(*FORCEFIELD).createSystem(topology, nonbondedMethod=app.PME if periodic else app.NoCutoff)


@lru_cache(maxsize=None)
def reference_energies(pdb_path, model_path, platform, periodic):
    """(E_MM(all), E_MM(ML region), E_ML(ML region)) in kJ/mol."""
    pdb = app.PDBFile(pdb_path)
    e_mm_all, _ = energy_forces(mm_system(pdb.topology, periodic), pdb.positions, platform)
    topology_ml, positions_ml = peptide_only(pdb)  # isolated: no box, no images
    system_ml = mm_system(topology_ml, periodic=False)
    e_mm_ml, _ = energy_forces(system_ml, positions_ml, platform)
    ml_system = MLPotential("range-schnet", modelPath=model_path).createSystem(topology_ml, precision="double")
    e_ml_ml, _ = energy_forces(ml_system, positions_ml, platform)
    return e_mm_all, e_mm_ml, e_ml_ml


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("interpolate", [False, True])
@pytest.mark.parametrize("periodic", [False, True])
def test_mechanical_embedding_identity(periodic, interpolate, platform, model_files, alanine_pdb):
    model_path = str(model_files["range-schnet"])
    e_mm_all, e_mm_ml, e_ml_ml = reference_energies(str(ALANINE_PDB), model_path, platform, periodic)
    expected = e_mm_all - e_mm_ml + e_ml_ml
    assert abs(e_ml_ml) > 10 * ATOL, "ML energy too small for the identity to test anything"
    potential = MLPotential("range-schnet", modelPath=model_path)
    mixed = potential.createMixedSystem(alanine_pdb.topology, mm_system(alanine_pdb.topology, periodic),
                                        ml_atoms(alanine_pdb.topology), interpolate=interpolate, precision="double")
    assert backend_in_use(mixed) == "python"  # the default backend, interpolated or not
    context = openmm.Context(mixed, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName(platform))
    context.setPositions(alanine_pdb.positions)
    for lam in ((0.0, 0.5, 1.0) if interpolate else (None,)):
        if lam is not None:
            context.setParameter("lambda_interpolate", lam)
        energy = context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(openmm.unit.kilojoule_per_mole)
        target = expected if lam is None else lam * expected + (1 - lam) * e_mm_all
        assert energy == pytest.approx(target, abs=ATOL)


def exported_energy(model_path, topology, indices, positions):
    """The exported module's energy (kJ/mol) for ``positions[indices]``, atoms in that order."""
    atoms = list(topology.atoms())
    numbers = [atoms[i].element.atomic_number for i in indices]
    module = openmm_range.export(openmm_range.load_model(model_path), numbers, dtype=torch.float64)
    return float(module(torch.tensor(np.asarray(positions)[indices])))


@pytest.mark.parametrize("backend", ["auto", "torchforce"])
def test_unsorted_ml_atoms_define_the_module_order(backend, model_files, alanine_pdb):
    """Atoms passed in any order: the ML force sees them in that order; the energy is unchanged."""
    require_backend(backend)
    model_path = str(model_files["range-schnet"])
    topology, positions = alanine_pdb.topology, alanine_pdb.positions
    atoms = ml_atoms(topology)
    shuffled = list(np.random.default_rng(7).permutation(atoms))
    potential = MLPotential("range-schnet", modelPath=model_path)
    energies = []
    for order in (atoms, shuffled):
        mixed = potential.createMixedSystem(topology, mm_system(topology, False), order, forceGroup=1,
                                            backend=backend, precision="double")
        e_ml, _ = energy_forces(mixed, positions, "CPU", groups={1})
        energies.append(energy_forces(mixed, positions, "CPU")[0])
        pos_nm = np.array(positions.value_in_unit(openmm.unit.nanometer))
        assert e_ml == pytest.approx(exported_energy(model_path, topology, order, pos_nm), rel=1e-9)
    assert energies[0] == pytest.approx(energies[1], abs=1e-6)


@pytest.mark.parametrize("periodic", [False, True])
def test_link_atoms_are_appended_after_the_ml_atoms(periodic, model_files, alanine_pdb):
    """ML region = the ALA residue only (cut bonds get hydrogen link atoms, virtual sites at the end)."""
    model_path = str(model_files["range-schnet"])
    topology, positions = alanine_pdb.topology, alanine_pdb.positions
    ala = [a.index for a in topology.atoms() if a.residue.chain.index == 0 and a.residue.name == "ALA"]
    order = list(np.random.default_rng(3).permutation(ala))
    potential = MLPotential("range-schnet", modelPath=model_path)
    results = {}
    for interpolate in (False, True):
        info = potential.createMixedSystem(topology, mm_system(topology, periodic), order, forceGroup=1,
                                           interpolate=interpolate, returnInfo=True, precision="double")
        system, new_topology = info["system"], info["topology"]
        caps = list(range(topology.getNumAtoms(), new_topology.getNumAtoms()))
        assert len(caps) == 2 and system.getNumParticles() == new_topology.getNumAtoms()
        context = openmm.Context(system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("CPU"))
        context.setPositions(list(positions) + [openmm.Vec3(0, 0, 0) * openmm.unit.nanometer] * len(caps))
        context.computeVirtualSites()
        if interpolate:
            for lam in (0.0, 1.0):
                context.setParameter("lambda_interpolate", lam)
                results[lam] = context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(
                    openmm.unit.kilojoule_per_mole)
            continue
        state = context.getState(getEnergy=True, getPositions=True)
        results["mixed"] = state.getPotentialEnergy().value_in_unit(openmm.unit.kilojoule_per_mole)
        all_positions = state.getPositions(asNumpy=True).value_in_unit(openmm.unit.nanometer)
        e_ml = context.getState(getEnergy=True, groups={1}).getPotentialEnergy().value_in_unit(
            openmm.unit.kilojoule_per_mole)
        assert e_ml == pytest.approx(exported_energy(model_path, new_topology, order + caps, all_positions),
                                     rel=1e-9)
    e_mm, _ = energy_forces(mm_system(topology, periodic), positions, "CPU")
    assert results[1.0] == pytest.approx(results["mixed"], abs=ATOL)
    assert results[0.0] == pytest.approx(e_mm, abs=ATOL)
