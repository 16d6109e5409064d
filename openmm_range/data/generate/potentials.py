"""Energy/force callables in internal units for sampling and labelling.

A potential maps positions (n, 3) Å to (energy eV, forces (n, 3) eV/Å). Two kinds:

* ``XTBPotential``   tblite GFN2-xTB (or GFN1-xTB); tblite works in Bohr and Hartree,
  the conversion happens here. Reuses the previous wavefunction as the next guess,
  which is what makes MD affordable. A failed SCF is retried from the default guess, then
  with a slower mixer; if that fails too it raises ``SCFError``.
* ``GFNFFPotential`` the GFN-FF force field (``gfnff`` wheel), a cheap sampler. Its
  topology is fixed to the RDKit bond graph, so hot MD cannot break or form bonds.

Both import their library lazily and say how to install it.
"""
from typing import Optional, Tuple

import numpy as np

from openmm_range.units import ANGSTROM_PER_BOHR, EV_PER_HARTREE

#: tblite's default electronic temperature is 9.5e-4 Hartree (300 K).
KELVIN_TO_HARTREE = 3.166808578545117e-6


#: tblite's SCC mixer damping, and the slower one of the last retry of a failed SCF
DEFAULT_DAMPING = 0.4
RETRY_DAMPING = 0.1
RETRY_ITER_FACTOR = 4


class SCFError(RuntimeError):
    """The xTB self-consistent field did not converge for a structure."""


class XTBPotential:
    """tblite xTB energies and forces for one molecule (fixed atoms, charge and spin).

    Args:
        z: (n,) atomic numbers.
        charge: total charge, e.
        uhf: number of unpaired electrons.
        method: "GFN2-xTB" (default), "GFN1-xTB" or "IPEA1-xTB".
        accuracy: tblite accuracy (SCF and integral thresholds; smaller is tighter). 0.01
            gives force noise ~1e-5 eV/Å, which long-range effects (~1e-3 eV/Å) need.
        electronic_temperature: Fermi smearing temperature, K (tblite default 300 K).
        max_iter: SCF iteration limit.
        reuse_wavefunction: start each SCF from the previous result (MD, relabelling a trajectory).
    """

    def __init__(
        self,
        z: np.ndarray,
        charge: int = 0,
        uhf: int = 0,
        method: str = "GFN2-xTB",
        accuracy: float = 1.0,
        electronic_temperature: float = 300.0,
        max_iter: int = 250,
        reuse_wavefunction: bool = True,
    ):
        try:
            from tblite.interface import Calculator  # noqa: F401
        except ImportError as exc:  # pragma: no cover - tblite is in requirements.txt
            raise ImportError("labelling needs tblite: pip install tblite") from exc
        self.z = np.asarray(z, dtype=np.int64)
        self.charge = int(charge)
        self.uhf = int(uhf)
        self.method = method
        self.accuracy = float(accuracy)
        self.electronic_temperature = float(electronic_temperature)
        self.max_iter = int(max_iter)
        self.reuse_wavefunction = reuse_wavefunction
        self._calc = None
        self._res = None
        #: (n,) Mulliken partial charges (e) of the last successful calculation.
        self.last_charges: Optional[np.ndarray] = None

    def _new_calculator(self, pos_bohr: np.ndarray):
        from tblite.interface import Calculator

        calc = Calculator(self.method, self.z, pos_bohr, charge=float(self.charge), uhf=self.uhf)
        calc.set("verbosity", 0)
        calc.set("accuracy", self.accuracy)
        calc.set("max-iter", self.max_iter)
        calc.set("temperature", self.electronic_temperature * KELVIN_TO_HARTREE)
        return calc

    def _damped_singlepoint(self):
        """Last try from the default guess: a slower mixer (damping ``RETRY_DAMPING`` instead of
        tblite's 0.4) and ``RETRY_ITER_FACTOR`` x the iterations. It reaches the same
        self-consistent solution when it converges (damping changes the path, not the fixed
        point), so the label is unchanged; SCFError if this fails too."""
        from tblite.exceptions import TBLiteRuntimeError

        self._calc.set("mixer-damping", RETRY_DAMPING)
        self._calc.set("max-iter", self.max_iter * RETRY_ITER_FACTOR)
        try:
            return self._calc.singlepoint()
        except TBLiteRuntimeError as exc:
            self._res = None
            raise SCFError(str(exc)) from None
        finally:
            self._calc.set("mixer-damping", DEFAULT_DAMPING)
            self._calc.set("max-iter", self.max_iter)

    def reset(self) -> None:
        """Forget the previous wavefunction (next call starts from the default guess)."""
        self._res = None

    def __call__(self, pos: np.ndarray) -> Tuple[float, np.ndarray]:
        """Energy (eV) and forces ((n, 3) eV/Å) at positions ``pos`` (n, 3) Å."""
        from tblite.exceptions import TBLiteRuntimeError

        pos_bohr = np.ascontiguousarray(pos, dtype=np.float64) / ANGSTROM_PER_BOHR
        if self._calc is None:
            self._calc = self._new_calculator(pos_bohr)
        else:
            self._calc.update(pos_bohr)
        res = None
        if self.reuse_wavefunction and self._res is not None:
            try:
                res = self._calc.singlepoint(self._res, copy=True)
            except TBLiteRuntimeError:
                res = None  # a stale guess can stall the SCF: retry once from the default guess
        if res is None:
            try:
                res = self._calc.singlepoint()
            except TBLiteRuntimeError:
                res = self._damped_singlepoint()
        self._res = res if self.reuse_wavefunction else None
        self.last_charges = np.asarray(res.get("charges"), dtype=np.float64)
        energy = float(res.get("energy")) * EV_PER_HARTREE
        forces = -np.asarray(res.get("gradient"), dtype=np.float64) * (EV_PER_HARTREE / ANGSTROM_PER_BOHR)
        return energy, forces


class GFNFFPotential:
    """GFN-FF energies and forces with the topology fixed to ``bonds`` (from RDKit).

    Args:
        z: (n,) atomic numbers. bonds: (n, n) bond matrix or None (GFN-FF perceives bonds).
        charge: total charge, e. fragments: (n,) fragment index (no bonds across fragments).
        ref_charges: (n,) per-atom charges whose fragment sums fix each fragment's charge.
    """

    def __init__(
        self,
        z: np.ndarray,
        pos: np.ndarray,
        charge: int = 0,
        bonds: Optional[np.ndarray] = None,
        fragments: Optional[np.ndarray] = None,
        ref_charges: Optional[np.ndarray] = None,
    ):
        try:
            from gfnff import GFNFFCalculator
        except ImportError as exc:
            raise ImportError("the 'gfnff' sampler needs the gfnff wheel: pip install gfnff") from exc
        self.z = np.asarray(z, dtype=np.int32)
        self._calc = GFNFFCalculator(
            self.z,
            np.ascontiguousarray(pos, dtype=np.float64) / ANGSTROM_PER_BOHR,
            charge=int(charge),
            printlevel=0,
            bond_matrix=bonds,
            fragments=fragments,
            ref_charges=ref_charges,
        )

    def __call__(self, pos: np.ndarray) -> Tuple[float, np.ndarray]:
        """Energy (eV) and forces ((n, 3) eV/Å) at positions ``pos`` (n, 3) Å."""
        energy, gradient, _ = self._calc.singlepoint(self.z, np.ascontiguousarray(pos, dtype=np.float64) / ANGSTROM_PER_BOHR)
        return energy * EV_PER_HARTREE, -gradient * (EV_PER_HARTREE / ANGSTROM_PER_BOHR)
