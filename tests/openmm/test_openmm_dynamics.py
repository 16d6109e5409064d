"""Molecular dynamics with a RANGE force: NVE energy conservation and Langevin temperature.

The untrained test model is scaled (its per-element energy scale) so that its forces do
real work: with the plain tiny model the molecule barely feels any force and energy
conservation would be trivially satisfied.
"""
import numpy as np
import openmm
import pytest
from openmmml import MLPotential

from openmm_range.openmm.simulation import backend_in_use, degrees_of_freedom

from conftest import make_model_file

R_KJ_PER_MOL_K = 0.00831446261815324  # molar gas constant, kJ/(mol K)


def run(system, positions, integrator, steps, every, seed=5):
    context = openmm.Context(system, integrator, openmm.Platform.getPlatformByName("CPU"))
    context.setPositions(positions)
    context.setVelocitiesToTemperature(300 * openmm.unit.kelvin, seed)
    kinetic, potential = [], []
    for _ in range(steps // every):
        integrator.step(every)
        state = context.getState(getEnergy=True, getPositions=True)
        assert np.isfinite(state.getPositions(asNumpy=True).value_in_unit(openmm.unit.nanometer)).all()
        kinetic.append(state.getKineticEnergy().value_in_unit(openmm.unit.kilojoule_per_mole))
        potential.append(state.getPotentialEnergy().value_in_unit(openmm.unit.kilojoule_per_mole))
    return np.array(kinetic), np.array(potential)


def test_nve_conserves_total_energy(model_dir, peptide):
    """2,000 velocity-Verlet steps of 0.25 fs.

    Bound: Verlet's energy error for a motion of angular frequency w is about (w dt)^2/8
    of the energy it exchanges. For motions with periods >= 10 fs (C-H stretches are
    ~11 fs; this model is softer) that is <= 0.3% at dt = 0.25 fs, so the total energy
    must stay within 2% of the potential-energy fluctuation (std) the force drives.
    Inconsistent forces (a wrong unit factor, a wrong atom order) move the total energy
    by an amount comparable to that fluctuation itself.
    """
    topology, positions = peptide
    path = make_model_file(model_dir, "range-schnet", scale=100.0)
    system = MLPotential("range-schnet", modelPath=str(path)).createSystem(topology, precision="double")
    integrator = openmm.VerletIntegrator(0.25 * openmm.unit.femtoseconds)
    kinetic, potential = run(system, positions, integrator, steps=2000, every=10)
    total = kinetic + potential
    exchanged = potential.std()
    assert exchanged > 5.0, f"the force does too little work ({exchanged:.2f} kJ/mol) for a meaningful test"
    assert np.abs(total - total[0]).max() <= 0.02 * exchanged
    drift = np.polyfit(np.arange(len(total)), total, 1)[0] * len(total)
    assert abs(drift) <= 0.01 * exchanged


def test_langevin_holds_the_temperature(model_dir, peptide):
    """2,000 LangevinMiddle steps of 2 fs at 300 K stay finite; mean kinetic temperature within 10%.

    Statistics: 63 degrees of freedom give instantaneous fluctuations of sqrt(2/63) = 18%;
    with friction 10/ps the kinetic energy decorrelates in ~50 fs, so 4 ps hold ~80
    independent samples and the mean's standard error is ~2%: 10% is a 5-sigma bound.
    """
    topology, positions = peptide
    path = make_model_file(model_dir, "range-schnet", scale=10.0)
    system = MLPotential("range-schnet", modelPath=str(path)).createSystem(topology, backend="python")
    assert backend_in_use(system) == "python"
    integrator = openmm.LangevinMiddleIntegrator(300 * openmm.unit.kelvin, 10 / openmm.unit.picosecond,
                                                 2 * openmm.unit.femtoseconds)
    integrator.setRandomNumberSeed(11)
    kinetic, potential = run(system, positions, integrator, steps=2000, every=10)
    assert np.isfinite(potential).all() and np.isfinite(kinetic).all()
    temperature = 2 * kinetic / (degrees_of_freedom(system) * R_KJ_PER_MOL_K)
    assert temperature.mean() == pytest.approx(300.0, rel=0.10)
