"""``Frames``: a packed, validated set of labelled structures in internal units.

Every reader returns a ``Frames`` and every dataset is built on one. Structures of
different sizes are stored back to back ("packed"), with ``offsets`` marking where
each structure starts, so that no padding is ever needed:

* ``z``        (A,)    int64     atomic numbers of all A atoms of all structures
* ``pos``      (A, 3)  float64   positions, Å
* ``forces``   (A, 3)  float64   forces, eV/Å (the negative energy gradient)
* ``energy``   (S,)    float64   total energies, eV, one per structure
* ``n_atoms``  (S,)    int64     atoms per structure; ``offsets = [0, cumsum(n_atoms)]``
* ``mol_id``   (S,)    int64     index into ``molecules`` (which molecule a structure is)
* ``charge``   (S,)    int64     total charge, e
* ``spin``     (S,)    int64     number of unpaired electrons (tblite's ``uhf``)
* ``molecules`` list of str      one name (SMILES, file key, ...) per molecule id
* ``fragment``        (A,) int64 or None  which molecule of its structure each atom belongs
  to (0, 1, ...; a dimer has two); None: every structure is one molecule
* ``fragment_charge`` (A,) int64 or None  total charge (e) of that molecule; None: the
  structure's ``charge``

``validate()`` checks shapes, dtypes and finiteness and names the file and the key
of the first problem it finds, so that readers only have to say where data came from.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np


@dataclass
class Frames:
    """Packed structures with energies and forces in Å, eV and eV/Å (see module docstring)."""

    z: np.ndarray
    pos: np.ndarray
    energy: np.ndarray
    forces: np.ndarray
    n_atoms: np.ndarray
    mol_id: np.ndarray
    charge: np.ndarray
    spin: np.ndarray
    molecules: List[str]
    source: str = "<memory>"
    metadata: Dict = field(default_factory=dict)
    fragment: Optional[np.ndarray] = None
    fragment_charge: Optional[np.ndarray] = None

    def __len__(self) -> int:
        return int(self.n_atoms.shape[0])

    def fragments(self):
        """``(fragment (A,), fragment_charge (A,))`` int64, filled in when not stored (one molecule each)."""
        if self.fragment is not None:
            return self.fragment, self.fragment_charge
        return np.zeros(self.z.shape[0], dtype=np.int64), np.repeat(self.charge, self.n_atoms)

    def molecule_table(self):
        """``(structure, sizes, charges)``, each (M,) int64: for every molecule of every structure
        (a dimer holds two), the structure it is in, its atom count and its total charge (e)."""
        fragment, fragment_charge = self.fragments()
        structure = np.repeat(np.arange(len(self)), self.n_atoms)
        key = structure * (int(fragment.max()) + 1) + fragment
        _, first, sizes = np.unique(key, return_index=True, return_counts=True)
        return structure[first], sizes.astype(np.int64), fragment_charge[first].astype(np.int64)

    @property
    def offsets(self) -> np.ndarray:
        """(S+1,) int64: atoms of structure i are ``offsets[i]:offsets[i+1]``."""
        out = np.zeros(len(self) + 1, dtype=np.int64)
        np.cumsum(self.n_atoms, out=out[1:])
        return out

    def validate(self) -> "Frames":
        """Check shapes, dtypes, finiteness and consistency; raise ValueError naming the source and key."""
        src = self.source
        s = self.n_atoms.shape[0] if self.n_atoms.ndim == 1 else -1
        if self.n_atoms.ndim != 1:
            raise ValueError(f"{src}: key 'n_atoms' must be 1-D (structures,), got shape {self.n_atoms.shape}")
        if s == 0:
            raise ValueError(f"{src}: contains no structures")
        if np.any(self.n_atoms <= 0):
            raise ValueError(f"{src}: key 'n_atoms' has a structure with no atoms")
        total = int(self.n_atoms.sum())
        expect = {
            "z": (total,),
            "pos": (total, 3),
            "forces": (total, 3),
            "energy": (s,),
            "mol_id": (s,),
            "charge": (s,),
            "spin": (s,),
        }
        for key, shape in expect.items():
            arr = getattr(self, key)
            if arr.shape != shape:
                raise ValueError(f"{src}: key {key!r} has shape {arr.shape}, expected {shape}")
        if (self.fragment is None) != (self.fragment_charge is None):
            raise ValueError(f"{src}: keys 'fragment' and 'fragment_charge' must be given together")
        if self.fragment is not None:
            for key in ("fragment", "fragment_charge"):
                if getattr(self, key).shape != (total,):
                    raise ValueError(f"{src}: key {key!r} has shape {getattr(self, key).shape}, expected {(total,)}")
            if np.any(self.fragment < 0):
                raise ValueError(f"{src}: key 'fragment' has a negative molecule index")
            # each molecule's charge is repeated on its atoms: the structure charge is their sum per molecule
            structure, _, charges = self.molecule_table()
            totals = np.bincount(structure, weights=charges, minlength=s).astype(np.int64)
            for i in np.flatnonzero(self.charge != totals):
                raise ValueError(f"{src}: structure {i}: its molecules' charges (key 'fragment_charge') do not "
                                 f"add up to its total charge {int(self.charge[i])}")
        for key in ("pos", "forces", "energy"):
            arr = getattr(self, key)
            if not np.all(np.isfinite(arr)):
                bad = int(np.argwhere(~np.isfinite(arr.reshape(arr.shape[0], -1)).any(axis=1))[0, 0])
                raise ValueError(f"{src}: key {key!r} contains NaN or inf (first at row {bad}); only finite values are accepted")
        if np.any(self.z < 1) or np.any(self.z > 118):
            raise ValueError(f"{src}: key 'z' has atomic numbers outside 1..118")
        if np.any(self.mol_id < 0) or np.any(self.mol_id >= len(self.molecules)):
            raise ValueError(f"{src}: key 'mol_id' points outside the {len(self.molecules)} molecule names")
        return self

    @staticmethod
    def from_arrays(
        z: Sequence,
        pos: Sequence,
        energy: Sequence,
        forces: Sequence,
        n_atoms: Sequence,
        mol_id: Optional[Sequence] = None,
        charge: Optional[Sequence] = None,
        spin: Optional[Sequence] = None,
        molecules: Optional[List[str]] = None,
        source: str = "<memory>",
        metadata: Optional[Dict] = None,
    ) -> "Frames":
        """Build and validate Frames from array-likes already in Å / eV / eV/Å (copies to canonical
        dtypes). Integer fields (atomic numbers, counts, ids, charges, spins) must hold whole
        numbers: 8.7 is refused, not read as oxygen."""
        n_atoms = _whole_numbers(n_atoms, "n_atoms", source)
        s = n_atoms.shape[0]
        mol_id = np.zeros(s, dtype=np.int64) if mol_id is None else _whole_numbers(mol_id, "mol_id", source)
        charge = None if charge is None else _whole_numbers(charge, "charge", source)
        spin = None if spin is None else _whole_numbers(spin, "spin", source)
        if molecules is None:
            molecules = [f"mol{i}" for i in range(int(mol_id.max()) + 1 if s else 0)]
        frames = Frames(
            z=_whole_numbers(z, "z (atomic numbers)", source),
            pos=np.asarray(pos, dtype=np.float64),
            energy=np.asarray(energy, dtype=np.float64).reshape(-1),
            forces=np.asarray(forces, dtype=np.float64),
            n_atoms=n_atoms,
            mol_id=mol_id,
            charge=np.zeros(s, dtype=np.int64) if charge is None else charge,
            spin=np.zeros(s, dtype=np.int64) if spin is None else spin,
            molecules=list(molecules),
            source=source,
            metadata=dict(metadata or {}),
        )
        return frames.validate()

    def take(self, indices: Sequence[int]) -> "Frames":
        """Frames with only the structures ``indices`` (in that order); molecule names are kept."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        off = self.offsets
        atom_idx = (
            np.concatenate([np.arange(off[i], off[i + 1]) for i in idx]) if len(idx) else np.zeros(0, dtype=np.int64)
        )
        return Frames(
            z=self.z[atom_idx],
            pos=self.pos[atom_idx],
            energy=self.energy[idx],
            forces=self.forces[atom_idx],
            n_atoms=self.n_atoms[idx],
            mol_id=self.mol_id[idx],
            charge=self.charge[idx],
            spin=self.spin[idx],
            molecules=list(self.molecules),
            source=self.source,
            metadata=dict(self.metadata),
            fragment=None if self.fragment is None else self.fragment[atom_idx],
            fragment_charge=None if self.fragment is None else self.fragment_charge[atom_idx],
        )


def concat_frames(parts: Sequence[Frames], source: str = "<concatenated>") -> Frames:
    """Join Frames end to end; molecule ids are renumbered so molecules of different parts stay distinct."""
    if not parts:
        raise ValueError("concat_frames needs at least one Frames")
    molecules: List[str] = []
    mol_ids = []
    stored = next((p.fragment for p in parts if p.fragment is not None), None)
    for part in parts:
        mol_ids.append(part.mol_id + len(molecules))
        molecules.extend(part.molecules)
    return Frames(
        z=np.concatenate([p.z for p in parts]),
        pos=np.concatenate([p.pos for p in parts]),
        energy=np.concatenate([p.energy for p in parts]),
        forces=np.concatenate([p.forces for p in parts]),
        n_atoms=np.concatenate([p.n_atoms for p in parts]),
        mol_id=np.concatenate(mol_ids),
        charge=np.concatenate([p.charge for p in parts]),
        spin=np.concatenate([p.spin for p in parts]),
        molecules=molecules,
        source=source,
        metadata={"parts": [p.source for p in parts]},
        fragment=None if stored is None else np.concatenate([p.fragments()[0] for p in parts]),
        fragment_charge=None if stored is None else np.concatenate([p.fragments()[1] for p in parts]),
    )


def _whole_numbers(values: Sequence, name: str, source: str) -> np.ndarray:
    """``values`` as a flat int64 array; ValueError naming ``source`` and ``name`` unless every
    value is a whole number (text that is not a number, or 8.7, is refused)."""
    try:
        array = np.asarray(values)
        if array.dtype.kind in "US":  # numbers stored as text
            array = array.astype(np.float64)
        array = array.reshape(-1)
        if array.dtype.kind == "f":
            if not np.isfinite(array).all() or (array != np.round(array)).any():
                bad = array[~np.isfinite(array) | (array != np.round(array))][:3].tolist()
                raise ValueError(f"values that are not whole numbers, e.g. {bad}")
        elif array.dtype.kind not in "iub":
            raise ValueError(f"dtype {array.dtype}")
        return array.astype(np.int64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{source}: {name} must be whole numbers ({exc})") from None
