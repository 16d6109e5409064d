"""Spot check of stored labels: forces against central differences of tblite energies.

For a few structures it recomputes the energy at the stored positions (checks the stored
energy) and, for a few random (atom, axis) components, compares the stored force with
``-(E(x + h) - E(x - h)) / 2h``. More structures are relabelled from the default SCF guess
(the generator restarts each SCF from the previous structure's wavefunction) to check that
no stored label belongs to a different SCF solution. Central differences have an O(h^2) error, and SCF noise
adds ~noise/h, so ``h`` of 1e-3 to 5e-3 Å with accuracy 0.01 resolves ~1e-4 eV/Å.
"""
from typing import Dict

import numpy as np

from openmm_range.data.frames import Frames
from openmm_range.data.generate.potentials import XTBPotential

#: Accept a component if |F_fd - F| <= ABS_TOL + REL_TOL * |F| (eV/Å).
ABS_TOL = 2e-3
REL_TOL = 1e-3
#: Stored energies must be reproduced (fresh SCF) within this, eV.
RELABEL_ENERGY_TOL = 1e-4


def spot_check_forces(
    frames: Frames,
    n_structures: int = 3,
    n_components: int = 6,
    step: float = 0.002,
    method: str = "GFN2-xTB",
    accuracy: float = 0.01,
    electronic_temperature: float = 300.0,
    max_iter: int = 250,
    seed: int = 0,
    n_relabel: int = 20,
) -> Dict:
    """Compare stored forces with central differences on random structures/components, and
    relabel ``n_relabel`` random structures from the default SCF guess.

    Returns a JSON-able dict with one record per component and a ``summary`` (max errors,
    energy reproduction error, ``passed``)."""
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(frames), size=min(n_structures, len(frames)), replace=False)
    off = frames.offsets
    records, energy_errors = [], []

    def fresh_potential(s: int) -> XTBPotential:
        """Calculator for structure ``s`` that starts every SCF from the default guess."""
        return XTBPotential(frames.z[off[s] : off[s + 1]], charge=int(frames.charge[s]), uhf=int(frames.spin[s]),
                            method=method, accuracy=accuracy, electronic_temperature=electronic_temperature,
                            max_iter=max_iter, reuse_wavefunction=False)

    for s in sorted(int(p) for p in picks):
        z = frames.z[off[s] : off[s + 1]]
        pos = frames.pos[off[s] : off[s + 1]]
        forces = frames.forces[off[s] : off[s + 1]]
        xtb = fresh_potential(s)
        energy, _ = xtb(pos)
        energy_errors.append(abs(energy - frames.energy[s]))
        for _ in range(n_components):
            atom, axis = int(rng.integers(len(z))), int(rng.integers(3))
            plus, minus = pos.copy(), pos.copy()
            plus[atom, axis] += step
            minus[atom, axis] -= step
            f_fd = -(xtb(plus)[0] - xtb(minus)[0]) / (2 * step)
            f_ref = float(forces[atom, axis])
            err = abs(f_fd - f_ref)
            records.append(
                {
                    "structure": s,
                    "atom": atom,
                    "axis": axis,
                    "force": round(f_ref, 6),
                    "finite_difference": round(f_fd, 6),
                    "abs_error": float(f"{err:.3g}"),
                    "ok": bool(err <= ABS_TOL + REL_TOL * abs(f_ref)),
                }
            )
    # labels were computed along each task with the previous structure's wavefunction as the
    # guess; relabel more structures from the default guess to catch a different SCF solution
    relabel = rng.choice(len(frames), size=min(n_relabel, len(frames)), replace=False)
    relabel_force_errors = []
    for s in sorted(int(p) for p in relabel):
        sl = slice(off[s], off[s + 1])
        energy, forces = fresh_potential(s)(frames.pos[sl])
        energy_errors.append(abs(energy - frames.energy[s]))
        relabel_force_errors.append(float(np.abs(forces - frames.forces[sl]).max()))
    errors = np.array([r["abs_error"] for r in records])
    refs = np.array([abs(r["force"]) for r in records])
    summary = {
        "structures": len(picks),
        "components": len(records),
        "step_angstrom": step,
        "max_abs_error_eV_per_A": float(errors.max()),
        "max_rel_error": float((errors / np.maximum(refs, 1e-3)).max()),
        "relabelled_structures": len(relabel_force_errors),
        "max_energy_reproduction_error_eV": float(max(energy_errors)),
        "max_relabel_force_error_eV_per_A": float(max(relabel_force_errors, default=0.0)),
        "passed": bool(all(r["ok"] for r in records))
        and max(energy_errors) < RELABEL_ENERGY_TOL
        and max(relabel_force_errors, default=0.0) < ABS_TOL,
    }
    return {"summary": summary, "components": records}
