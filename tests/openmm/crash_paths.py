"""Scenarios that crash the process with openmmtorch 1.5 unless the plugin guards them.

Run one scenario per child process (test_openmm_crash_guards.py):

    python crash_paths.py SCENARIO MODEL.pt ALANINE.pdb

Prints ``SCENARIO-OK`` and exits 0 when the scenario ends cleanly (it worked, or it
was refused with the expected clear error); status 3 when TorchForce is unusable here (the test
environment installs openmmtorch, so the test fails then).
A segmentation fault shows up as a negative exit status in the parent.
"""
import copy
import pickle
import sys

import numpy as np
import openmm
import openmm.app as app
from openmmml import MLPotential

from openmm_range.openmm.backends import torchforce_status
from openmm_range.openmm.guard import TorchForceCopyError
from openmm_range.openmm.simulation import backend_in_use

KJ = openmm.unit.kilojoule_per_mole


def energy(system, positions, lam=None):
    context = openmm.Context(system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("CPU"))
    context.setPositions(positions)
    if lam is not None:
        context.setParameter("lambda_interpolate", lam)
    return context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(KJ)


def xml_round_trip(system):
    return openmm.XmlSerializer.deserialize(openmm.XmlSerializer.serialize(system))


def main(scenario, model_path, pdb_path):
    pdb = app.PDBFile(pdb_path)
    ml = [a.index for a in pdb.topology.atoms() if a.residue.chain.index == 0]
    mm = app.ForceField("amber19-all.xml", "amber19/tip3pfb.xml").createSystem(pdb.topology)
    potential = MLPotential("range-schnet", modelPath=model_path)
    peptide = app.Modeller(pdb.topology, pdb.positions)
    peptide.delete([a for a in pdb.topology.atoms() if a.residue.chain.index != 0])
    needs_torchforce = scenario in ("interpolate-torchforce", "torchforce-copies-refused")
    if needs_torchforce and not torchforce_status()[0]:  # the test environment installs openmmtorch
        print(f"openmmtorch's TorchForce is not usable: {torchforce_status()[1]}")
        return 3

    if scenario == "xml-round-trip-default":
        # The most common way to save and reload a System: with the default backend it must work.
        system = potential.createSystem(peptide.topology)
        assert backend_in_use(system) == "python"
        xml = openmm.XmlSerializer.serialize(system)
        assert np.isclose(energy(openmm.XmlSerializer.deserialize(xml), peptide.positions),
                          energy(system, peptide.positions), atol=1e-6)
        mixed = potential.createMixedSystem(pdb.topology, mm, ml)
        assert backend_in_use(mixed) == "python"
        assert np.isclose(energy(copy.deepcopy(mixed), pdb.positions), energy(mixed, pdb.positions), atol=1e-6)
    elif scenario == "interpolate-auto":
        # createMixedSystem(interpolate=True) puts the ML force in a CustomCVForce: must be PythonForce.
        mixed = potential.createMixedSystem(pdb.topology, mm, ml, interpolate=True)
        assert backend_in_use(mixed) == "python"
        e = energy(mixed, pdb.positions, lam=0.3)
        assert np.isclose(energy(copy.deepcopy(mixed), pdb.positions, lam=0.3), e, atol=1e-6)
        assert np.isclose(energy(xml_round_trip(mixed), pdb.positions, lam=0.3), e, atol=1e-6)
    elif scenario == "interpolate-torchforce":
        try:
            potential.createMixedSystem(pdb.topology, mm, ml, interpolate=True, backend="torchforce")
        except ValueError as exc:
            assert "CustomCVForce" in str(exc) and "backend='python'" in str(exc), exc
        else:
            raise AssertionError("backend='torchforce' with interpolate=True was not refused")
    elif scenario == "xml-round-trip-python":
        for system, positions in ((potential.createSystem(peptide.topology, backend="python"), peptide.positions),
                                  (potential.createMixedSystem(pdb.topology, mm, ml, backend="python"),
                                   pdb.positions)):
            assert backend_in_use(system) == "python"
            assert np.isclose(energy(xml_round_trip(system), positions), energy(system, positions), atol=1e-6)
            assert np.isclose(energy(pickle.loads(pickle.dumps(system)), positions), energy(system, positions),
                              atol=1e-6)
    elif scenario == "deepcopy-python":
        system = potential.createSystem(peptide.topology, backend="python")
        force_copy = copy.deepcopy(system.getForce(0))
        assert force_copy.getName() == "RANGE PythonForce"
        assert np.isclose(energy(copy.deepcopy(system), peptide.positions), energy(system, peptide.positions),
                          atol=1e-6)
    elif scenario == "torchforce-copies-refused":
        system = potential.createSystem(peptide.topology, backend="torchforce")
        assert backend_in_use(system) == "torchforce"
        for operation in (copy.copy, copy.deepcopy, pickle.dumps):
            try:
                operation(system)
            except TorchForceCopyError as exc:
                assert "backend='python'" in str(exc), exc
            else:
                raise AssertionError(f"{operation.__name__} of a TorchForce system was not refused")
        assert np.isfinite(energy(system, peptide.positions))  # still usable
    else:
        raise SystemExit(f"unknown scenario {scenario!r}")
    print(f"{scenario}-OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
