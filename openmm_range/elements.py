"""Chemical elements: symbols <-> atomic numbers."""
from typing import Iterable, List

SYMBOLS = [
    "X", "H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne", "Na", "Mg", "Al", "Si", "P", "S", "Cl", "Ar",
    "K", "Ca", "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As", "Se", "Br", "Kr",
    "Rb", "Sr", "Y", "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd", "In", "Sn", "Sb", "Te", "I", "Xe",
]
ATOMIC_NUMBERS = {s: z for z, s in enumerate(SYMBOLS) if z > 0}
MAX_Z = 118

#: Elements every model supports unless told otherwise: the organic set of the paper's
#: datasets (QM7-X: H C N O S Cl) plus F, P and Br.
DEFAULT_ELEMENTS = (1, 6, 7, 8, 9, 15, 16, 17, 35)


def symbol(z: int) -> str:
    """Symbol of atomic number ``z`` (e.g. 6 -> 'C')."""
    return SYMBOLS[z] if 0 < z < len(SYMBOLS) else f"Z={z}"


def to_atomic_numbers(items: Iterable) -> List[int]:
    """Convert symbols or numbers to a list of atomic numbers. Raises ValueError on unknown input."""
    out = []
    for item in items:
        if isinstance(item, str):
            key = item.strip().capitalize()
            if key not in ATOMIC_NUMBERS:
                raise ValueError(f"unknown element symbol {item!r}")
            out.append(ATOMIC_NUMBERS[key])
        else:
            z = int(item)
            if not 1 <= z <= MAX_Z:
                raise ValueError(f"atomic number {item!r} is outside 1..{MAX_Z}")
            out.append(z)
    return out
