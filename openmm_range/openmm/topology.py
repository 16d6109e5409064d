"""The ML atoms of an OpenMM Topology, their elements, and the check against a model.

The order of ``atoms`` as given by the caller (openmm-ml passes it unchanged, with any
link-atom virtual sites appended at the end) is the atom order of the exported module:
position ``k`` passed to the module is that of atom ``atoms[k]``.
"""
import math
from numbers import Real
from typing import Iterable, List, Optional, Sequence, Tuple

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


#: Elements that occur as single-atom molecules (ions, noble gases): an unbonded atom of any
#: other element means the topology lacks its bonds.
_MONATOMIC = {2, 3, 9, 10, 11, 12, 17, 18, 19, 20, 25, 26, 27, 28, 29, 30, 35, 36, 37, 38, 53, 54, 55, 56}


def region_bonds(topology: openmm.app.Topology, indices: Sequence[int]) -> List[Tuple[int, int]]:
    """The bonds among the ML atoms, as pairs of positions in ``indices``, with each link-atom
    hydrogen openmm-ml appended bonded to the atom it caps."""
    position = {atom: k for k, atom in enumerate(indices)}
    bonds = [(position[a.index], position[b.index]) for a, b in topology.bonds()
             if a.index in position and b.index in position]
    return bonds + link_sites(topology, indices)


def link_sites(topology: openmm.app.Topology, indices: Sequence[int]) -> List[Tuple[int, int]]:
    """The link-atom hydrogens openmm-ml appends to the ML atoms for ML/MM (``V<k>`` atoms, unbonded
    in the topology, one per bond the ML region cuts): (position of the site in ``indices``,
    position of the ML atom it caps), or [] when there are none."""
    position = {atom: k for k, atom in enumerate(indices)}
    bonded = {position[a.index] for bond in topology.bonds() for a in bond
              if bond[0].index in position and bond[1].index in position}
    atoms = list(topology.atoms())
    sites = [k for k, i in enumerate(indices) if k not in bonded and atoms[i].name.startswith("V")
             and atoms[i].name == atoms[i].residue.name and atoms[i].element is not None
             and atoms[i].element.atomic_number == 1]
    if not sites:
        return []
    from openmmml.embeddings.utilities import findLinkBonds

    real = [i for k, i in enumerate(indices) if k not in set(sites)]
    links = findLinkBonds(topology, real)
    if len(links) != len(sites):  # openmm-ml adds one site per link bond, in this order
        return []
    return [(k, position[ml_atom]) for k, (ml_atom, _mm_atom) in zip(sites, links)]


def user_molecules(topology: openmm.app.Topology, indices: Sequence[int], molecules: Sequence) -> List[int]:
    """Molecule ids given by the user (``molecules=[...]``: one per ML atom, any non-negative
    integers) as 0..G-1 in order of first appearance, the order ``moleculeCharges`` follows. For an
    ML/MM region whose link-atom hydrogens openmm-ml appended, one id per ML atom the user chose
    is enough: each cap takes the id of the atom it caps. ValueError naming ``molecules``."""
    ids = molecule_ids(molecules)
    if len(ids) != len(indices):
        sites = link_sites(topology, indices)
        if not sites or len(ids) != len(indices) - len(sites):
            extra = f" (or {len(indices) - len(sites)}, without the link atoms)" if sites else ""
            raise ValueError(f"molecules must give one id per ML atom ({len(indices)}{extra}), got {len(ids)}")
        capped = dict(sites)
        it = iter(ids)
        full = [None if k in capped else next(it) for k in range(len(indices))]
        ids = molecule_ids([full[capped[k]] if k in capped else full[k] for k in range(len(indices))])
    return ids


def molecule_ids(molecules: Sequence) -> List[int]:
    """User-given molecule ids (any whole numbers >= 0, one per atom) as 0..G-1 in order of first
    appearance: the order in which per-molecule charges are given. ValueError naming ``molecules``."""
    given = list(molecules)
    if not all(isinstance(m, Real) and not isinstance(m, bool) and math.isfinite(m) and float(m) == int(m)
               and m >= 0 for m in given):
        raise ValueError(f"molecules must be whole numbers >= 0 (one molecule id per atom), got {given!r}")
    order: dict = {}
    return [order.setdefault(int(m), len(order)) for m in given]


def ml_molecules(topology: openmm.app.Topology, indices: Sequence[int]) -> List[int]:
    """Molecule id (0..G-1, in order of first appearance) of each ML atom: the connected
    components of the topology's bonds among the ML atoms. They are fixed for the System's
    lifetime, so no master node ever switches on or off during MD.

    Link-atom hydrogens that openmm-ml appends for ML/MM (``V<k>`` atoms, unbonded in the
    topology) join the molecule of the ML atom they cap. Raises ValueError when an atom that
    cannot be a molecule on its own (not an ion or noble gas) has no bond: the topology then
    lacks bonds (add CONECT records or ``topology.createStandardBonds()``, or pass ``molecules``).
    """
    parent = list(range(len(indices)))

    def find(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    def union(a: int, b: int) -> None:
        parent[find(a)] = find(b)

    bonded = set()
    for a, b in region_bonds(topology, indices):  # (an ML atom bonded only across the boundary has its cap)
        union(a, b)
        bonded.update((a, b))
    atoms = list(topology.atoms())
    for k, i in enumerate(indices):
        z = atoms[i].element.atomic_number if atoms[i].element is not None else 0
        if len(indices) > 1 and k not in bonded and z not in _MONATOMIC:
            raise ValueError(f"{describe_atom(atoms[i])} has no bond in the topology, so RANGE cannot tell which "
                             f"molecule it belongs to; add the bonds (CONECT records in the PDB file, or "
                             f"topology.createStandardBonds()), or pass molecules=[one id per ML atom] "
                             f"(molecules='single' treats the whole ML region as one molecule)")
    ids: dict = {}
    return [ids.setdefault(find(k), len(ids)) for k in range(len(indices))]


def check_closed_shells(topology: openmm.app.Topology, indices: Sequence[int], numbers: Sequence[int],
                        molecules: Sequence[int], charges: Sequence[int], model: str) -> None:
    """ValueError for a molecule of the ML region with an odd number of electrons (an open shell).

    ``molecules`` (one id per ML atom) and ``charges`` (e, one per molecule) as the force gets
    them. The models have no spin input and the shipped data are closed-shell singlets, so an odd
    count is almost always a missing charge (a carboxylate given charge 0) and would give an
    energy of a species never trained on. A molecule with a bond to an atom outside the ML region
    (a fragment cut from a larger molecule in ML/MM) is not checked: it is no closed species."""
    ml = set(indices)
    group = dict(zip(indices, molecules))
    cut = set()
    for a, b in topology.bonds():
        if (a.index in ml) != (b.index in ml):
            cut.add(group[a.index if a.index in ml else b.index])
    first = {}
    for i, m in zip(indices, molecules):
        first.setdefault(m, i)
    atoms = list(topology.atoms())
    for m, count in open_shells(numbers, molecules, charges):
        if m not in cut:
            where = f"molecule {m} of the ML region (from {describe_atom(atoms[first[m]])})" if len(charges) > 1 \
                else "the ML region"
            raise ValueError(open_shell_message(where, count, charges[m], model, "moleculeCharges"))


def open_shells(numbers: Sequence[int], molecules: Sequence[int], charges: Sequence[int]) -> List[Tuple[int, int]]:
    """(molecule id, electron count) of each molecule with an odd number of electrons at its charge."""
    electrons = [0] * len(charges)
    for z, m in zip(numbers, molecules):
        electrons[m] += int(z)
    return [(m, electrons[m] - int(q)) for m, q in enumerate(charges) if (electrons[m] - int(q)) % 2 == 1]


def open_shell_message(where: str, count: int, charge: int, model: str, per_molecule: str) -> str:
    return (f"{where} has {count} electrons at total charge {int(charge):+d}: an open shell, but the {model} model "
            f"has no spin input and takes closed-shell molecules only (multiplicity 1); if it is an ion, give its "
            f"charge (charge=..., or {per_molecule}=[one per molecule]; a carboxylate is -1, an ammonium +1)")


def check_charge(charge) -> int:
    """``charge`` as an int (total charge in e); ValueError for anything that is not an integer."""
    try:
        value = int(charge)
    except (TypeError, ValueError):
        raise ValueError(f"charge must be an integer (total charge in elementary charges), got {charge!r}") from None
    if isinstance(charge, bool) or value != charge:
        raise ValueError(f"charge must be an integer (total charge in elementary charges), got {charge!r}")
    return value


def molecule_charges(numbers: Sequence[int], molecules: Sequence[int], charge: int,
                     per_molecule: Optional[Sequence[int]] = None) -> List[int]:
    """Total charge (e) of each molecule from openmm-ml's ``charge`` (the whole ML region's).

    ``per_molecule`` (one per molecule id) is used when given and must add up to ``charge``.
    Otherwise one molecule takes ``charge``; with several, every molecule is neutral when
    ``charge`` is 0 and a +-1 charge goes to the only molecule with an odd number of
    electrons when neutral (closed shells). Anything else is ambiguous: ValueError asking
    for ``moleculeCharges``.
    """
    count = max(molecules) + 1
    if per_molecule is not None:
        values = [int(q) for q in per_molecule]
        if len(values) != count or any(v != q for v, q in zip(values, per_molecule)):
            raise ValueError(f"moleculeCharges must give one integer charge per molecule of the ML region "
                             f"({count}), got {list(per_molecule)!r}")
        if sum(values) != charge:
            raise ValueError(f"moleculeCharges {values} add up to {sum(values)}, but charge={charge}")
        return values
    if count == 1:
        return [charge]
    electrons = [0] * count
    for z, m in zip(numbers, molecules):
        electrons[m] += int(z)
    odd = [m for m in range(count) if electrons[m] % 2 == 1]
    if charge == 0 and not odd:
        return [0] * count
    if abs(charge) == 1 and len(odd) == 1:
        out = [0] * count
        out[odd[0]] = charge
        return out
    raise ValueError(f"the ML region holds {count} molecules and charge={charge}: which molecule carries which "
                     f"charge is ambiguous ({len(odd)} of them have an odd number of electrons when neutral); pass "
                     f"moleculeCharges=[one total charge per molecule, in order of their first ML atom]")
