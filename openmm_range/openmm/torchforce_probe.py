"""Stand-alone check that openmm-torch's TorchForce works with the installed torch.

Run as a script in a child process by :func:`openmm_range.openmm.backends.torchforce_status`
(a broken wheel set can crash instead of raising, so it must not run in the user's
process). Exit status 0 and the line ``TORCHFORCE-OK`` mean a TorchForce built from a
TorchScript module evaluated the right energy and forces on the Reference platform.
This file imports nothing from openmm_range.
"""
import sys


def main() -> int:
    import torch  # openmmtorch needs torch imported first

    import openmm
    import openmmtorch

    class Harmonic(torch.nn.Module):
        def forward(self, positions: torch.Tensor) -> torch.Tensor:
            return (positions * positions).sum()

    force = openmmtorch.TorchForce(torch.jit.script(Harmonic()), {})
    system = openmm.System()
    for _ in range(2):
        system.addParticle(1.0)
    system.addForce(force)
    context = openmm.Context(system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference"))
    context.setPositions([openmm.Vec3(0.1, 0.2, 0.3), openmm.Vec3(-0.4, 0.0, 0.5)])
    state = context.getState(getEnergy=True, getForces=True)
    energy = state.getPotentialEnergy().value_in_unit(openmm.unit.kilojoule_per_mole)
    forces = state.getForces(asNumpy=True).value_in_unit(openmm.unit.kilojoule_per_mole / openmm.unit.nanometer)
    fx = float(forces[0][0])
    if abs(energy - 0.55) > 1e-9 or abs(fx + 0.2) > 1e-9:
        print(f"TorchForce evaluated wrong values: energy {energy} (expected 0.55), fx {fx} (expected -0.2)")
        return 1
    print("TORCHFORCE-OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
