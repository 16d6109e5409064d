"""The package's unit convention, stated once.

Internally every model, dataset and trainer works in

* length: **Ångström** (Å)
* energy: **electronvolt** (eV)
* force:  **eV/Å**

Conversions happen only at the edges: dataset readers convert file units to these,
and the OpenMM boundary (exported TorchScript modules, the openmm-ml plugin) converts
OpenMM's nm and kJ/mol to these and back. Each factor below is written next to its
definition so that a wrong factor is easy to spot.
"""

#: 1 nm = 10 Å
ANGSTROM_PER_NM = 10.0
#: 1 Bohr = 0.529177210903 Å (CODATA 2018)
ANGSTROM_PER_BOHR = 0.529177210903
#: 1 eV = 96.48533212331 kJ/mol (CODATA 2018: e * N_A / 1000)
KJ_PER_MOL_PER_EV = 96.48533212331
#: 1 kcal = 4.184 kJ (thermochemical calorie)
KJ_PER_KCAL = 4.184
#: 1 kcal/mol in eV
EV_PER_KCAL_PER_MOL = KJ_PER_KCAL / KJ_PER_MOL_PER_EV
#: 1 Hartree = 27.211386245988 eV (CODATA 2018)
EV_PER_HARTREE = 27.211386245988
#: 1 meV = 1e-3 eV, used when reporting errors
MEV_PER_EV = 1000.0

#: Names of the internal units, stored in the metadata of every saved model and dataset.
INTERNAL_UNITS = {"length": "angstrom", "energy": "eV", "forces": "eV/angstrom"}

#: Factors that convert a quantity *from* a named unit *to* the internal unit.
LENGTH_TO_ANGSTROM = {"angstrom": 1.0, "ang": 1.0, "a": 1.0, "nm": ANGSTROM_PER_NM, "bohr": ANGSTROM_PER_BOHR}
ENERGY_TO_EV = {
    "ev": 1.0,
    "mev": 1.0 / MEV_PER_EV,
    "kcal/mol": EV_PER_KCAL_PER_MOL,
    "kj/mol": 1.0 / KJ_PER_MOL_PER_EV,
    "hartree": EV_PER_HARTREE,
    "ha": EV_PER_HARTREE,
}


def length_factor(unit: str) -> float:
    """Factor converting lengths in ``unit`` to Å. Raises ValueError for an unknown unit."""
    key = unit.strip().lower()
    if key not in LENGTH_TO_ANGSTROM:
        raise ValueError(f"unknown length unit {unit!r}; accepted: {sorted(LENGTH_TO_ANGSTROM)}")
    return LENGTH_TO_ANGSTROM[key]


def energy_factor(unit: str) -> float:
    """Factor converting energies in ``unit`` to eV. Raises ValueError for an unknown unit."""
    key = unit.strip().lower()
    if key not in ENERGY_TO_EV:
        raise ValueError(f"unknown energy unit {unit!r}; accepted: {sorted(ENERGY_TO_EV)}")
    return ENERGY_TO_EV[key]

#: Coulomb's constant e^2 / (4 pi eps0) = 14.3996454784 eV Å (CODATA 2018), for charges in e
COULOMB_EV_ANGSTROM = 14.3996454784
