"""The ML atoms of an OpenMM Topology, their elements, and the check against a model.

The order of ``atoms`` as given by the caller (openmm-ml passes it unchanged, with any
link-atom virtual sites appended at the end) is the atom order of the exported module:
position ``k`` passed to the module is that of atom ``atoms[k]``.
"""
from typing import Iterable, List, Optional, Sequence

import openmm.app

from ..elements import symbol


def describe_atom(atom: openmm.app.topology.Atom) -> str:
    """Human-readable identity of a topology atom, e.g. ``atom 7 (CA of ALA 2, chain A)``."""
    residue = atom.residue
    return f"atom {atom.index} ({atom.name} of {residue.name} {residue.id}, chain {residue.chain.id})"


def ml_atom_indices(topology: openmm.app.Topology, atoms: Optional[Iterable[int]]) -> List[int]:
    """Indices of the ML atoms, in the caller's order; ``None`` means every atom in topology order.

    Raises ValueError for an index outside the topology, a repeated index, or an empty list.
    """
    n_atoms = topology.getNumAtoms()
    if atoms is None:
        indices = list(range(n_atoms))
    else:
        indices = []
        for value in atoms:
            try:
                index = int(value)
            except (TypeError, ValueError):
                raise ValueError(f"atoms must be atom indices (integers), got {value!r}") from None
            if index != value:
                raise ValueError(f"atoms must be atom indices (integers), got {value!r}")
            indices.append(index)
    if not indices:
        raise ValueError("the ML region is empty: atoms must list at least one atom index")
    bad = [i for i in indices if not 0 <= i < n_atoms]
    if bad:
        raise ValueError(f"atom index {bad[0]} is outside the topology, which has atoms 0..{n_atoms - 1}")
    if len(set(indices)) != len(indices):
        seen, repeated = set(), None
        for i in indices:
            if i in seen:
                repeated = i
                break
            seen.add(i)
        raise ValueError(f"atom index {repeated} is listed twice in atoms; each ML atom must appear once")
    return indices


def atomic_numbers(topology: openmm.app.Topology, indices: Sequence[int], supported: Sequence[int],
                   model_name: str) -> List[int]:
    """Atomic numbers of ``indices`` (same order), checked against the model's ``supported`` elements.

    Raises ValueError naming the first atom without an element or with an element the model
    was not trained on, and listing the elements it was trained on.
    """
    by_index = list(topology.atoms())
    allowed = set(int(z) for z in supported)
    allowed_text = ", ".join(symbol(z) for z in sorted(allowed))
    numbers = []
    for i in indices:
        atom = by_index[i]
        if atom.element is None:
            raise ValueError(f"{describe_atom(atom)} has no element, so the {model_name} model cannot treat it; "
                             f"give it an element or leave it out of the ML region "
                             f"(the model was trained on: {allowed_text})")
        z = int(atom.element.atomic_number)
        if z not in allowed:
            raise ValueError(f"{describe_atom(atom)} is {atom.element.symbol} (Z={z}), an element the "
                             f"{model_name} model was not trained on; it was trained on: {allowed_text}")
        numbers.append(z)
    return numbers
