"""``AtomsDataset``: labelled structures as a torch-geometric dataset.

``ds[i]`` is a ``torch_geometric.data.Data`` with

* ``z``        LongTensor (n,)      atomic numbers
* ``pos``      (n, 3)  Å            positions
* ``energy``   (1,)    eV           total energy
* ``forces``   (n, 3)  eV/Å         forces
* ``mol_id``   LongTensor (1,)      molecule index (``ds.molecules[mol_id]`` names it)
* ``n_atoms``  LongTensor (1,)      n
* ``charge``   LongTensor (1,)      total charge, e
* ``spin``     LongTensor (1,)      unpaired electrons
* ``idx``      LongTensor (1,)      index of the structure in the parent dataset
* ``fragment`` LongTensor (n,)      molecule of each atom within the structure (0, 1, ...)
* ``fragment_charge`` LongTensor (n,) total charge of that molecule, e

Floating tensors are float64 by default (``dtype=`` chooses; every float field uses the
same dtype). Subsets (``subset``, ``split``, slicing) share the parent's arrays, and their
``stats`` and ``content_hash`` describe the subset itself.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch_geometric.data import Data, Dataset

from openmm_range.data.frames import Frames, concat_frames
from openmm_range.data.stats import compute_stats, content_hash

SPLIT_MODES = ("structure", "molecule")


class AtomsDataset(Dataset):
    """Structures with energies and forces in Å, eV, eV/Å (see module docstring)."""

    def __init__(
        self,
        frames: Frames,
        indices: Optional[Sequence[int]] = None,
        dtype: torch.dtype = torch.float64,
        transform=None,
    ):
        super().__init__(root=None, transform=transform, log=False)
        self._base = frames
        self._index = np.arange(len(frames), dtype=np.int64) if indices is None else np.asarray(indices, dtype=np.int64)
        if len(self._index) and (self._index.min() < 0 or self._index.max() >= len(frames)):
            raise ValueError(f"{frames.source}: subset indices must lie in 0..{len(frames) - 1}")
        self.dtype = dtype
        self._offsets = torch.from_numpy(frames.offsets)
        self._z = torch.from_numpy(frames.z)
        self._pos = torch.from_numpy(frames.pos).to(dtype)
        self._forces = torch.from_numpy(frames.forces).to(dtype)
        self._energy = torch.from_numpy(frames.energy).to(dtype)
        fragment, fragment_charge = frames.fragments()
        self._fragment = torch.from_numpy(fragment)
        self._fragment_charge = torch.from_numpy(fragment_charge)
        self._cache: Dict[str, object] = {}

    # -- torch-geometric interface ----------------------------------------------------------
    def len(self) -> int:
        """Number of structures."""
        return int(self._index.shape[0])

    def get(self, idx: int) -> Data:
        """Structure ``idx`` as a ``Data`` (fields in the module docstring)."""
        s = int(self._index[idx])
        a, b = int(self._offsets[s]), int(self._offsets[s + 1])
        return Data(
            z=self._z[a:b],
            pos=self._pos[a:b],
            energy=self._energy[s : s + 1],
            forces=self._forces[a:b],
            mol_id=torch.tensor([int(self._base.mol_id[s])]),
            n_atoms=torch.tensor([b - a]),
            charge=torch.tensor([int(self._base.charge[s])]),
            spin=torch.tensor([int(self._base.spin[s])]),
            idx=torch.tensor([s]),
            fragment=self._fragment[a:b],
            fragment_charge=self._fragment_charge[a:b],
        )

    def index_select(self, idx) -> "AtomsDataset":
        """Slices, index lists/arrays/tensors and boolean masks give a subset (PyG convention)."""
        positions = np.arange(self.len())
        if isinstance(idx, slice):
            chosen = positions[idx]
        else:
            arr = idx.cpu().numpy() if isinstance(idx, torch.Tensor) else np.asarray(idx)
            chosen = np.flatnonzero(arr) if arr.dtype == bool else positions[arr.astype(np.int64).reshape(-1)]
        return self.subset(chosen)

    # -- dataset API -----------------------------------------------------------------------
    @property
    def source(self) -> str:
        """File or directory the data came from."""
        return self._base.source

    @property
    def metadata(self) -> Dict:
        """Metadata of the file(s) the data came from (provenance, spec, ...)."""
        return self._base.metadata

    @property
    def molecules(self) -> List[str]:
        """Molecule names, indexed by ``mol_id``."""
        return self._base.molecules

    @property
    def frames(self) -> Frames:
        """The structures of this (sub)set as packed numpy arrays (float64)."""
        if "frames" not in self._cache:
            full = len(self._index) == len(self._base) and np.array_equal(self._index, np.arange(len(self._base)))
            self._cache["frames"] = self._base if full else self._base.take(self._index)
        return self._cache["frames"]

    @property
    def stats(self) -> Dict:
        """Elements, n_min/n_max, atom_ref_energies {Z: eV}, energy mean/std, force_rms, ... (see stats.py)."""
        if "stats" not in self._cache:
            self._cache["stats"] = compute_stats(self.frames)
        return self._cache["stats"]

    @property
    def content_hash(self) -> str:
        """SHA-256 (hex) of the structures and labels, stable across runs, platforms and file formats."""
        if "hash" not in self._cache:
            self._cache["hash"] = content_hash(self.frames)
        return self._cache["hash"]

    @property
    def parent_indices(self) -> np.ndarray:
        """(len,) int64: indices of this subset's structures in the dataset it was loaded as."""
        return self._index.copy()

    def subset(self, indices: Sequence[int]) -> "AtomsDataset":
        """The structures at positions ``indices`` of this dataset (same interface)."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if len(idx) and (idx.min() < -self.len() or idx.max() >= self.len()):
            raise ValueError(f"subset index out of range 0..{self.len() - 1}")
        return AtomsDataset(self._base, self._index[idx], dtype=self.dtype, transform=self.transform)

    def split(
        self, fractions: Sequence[float] = (0.8, 0.1, 0.1), by: str = "structure", seed: int = 0,
        held_out: Sequence[str] = (),
    ) -> Tuple["AtomsDataset", ...]:
        """Random disjoint subsets with the given fractions (they must sum to 1).

        ``by="structure"`` shuffles structures; ``by="molecule"`` shuffles whole molecules so
        that no molecule is in two parts (sizes then follow the fractions approximately).
        ``held_out``: names (``ds.molecules``) whose structures all go to the last part (the
        test split) and nowhere else, e.g. dimer pair types never seen in training; the
        rest is split as above. The same ``seed`` always gives the same split."""
        if held_out:
            names = list(self.molecules)
            unknown = sorted(set(held_out) - set(names))
            if unknown:
                raise ValueError(f"held-out molecules {unknown} are not in {self.source}; its molecules include "
                                 f"{names[:8]}{' ...' if len(names) > 8 else ''}")
            ids = [k for k, name in enumerate(names) if name in set(held_out)]
            out = np.isin(self._base.mol_id[self._index], ids)
            parts = list(self.subset(np.flatnonzero(~out)).split(fractions, by=by, seed=seed))
            where = {int(b): k for k, b in enumerate(self._index)}  # base index -> position here
            test = [where[int(b)] for b in parts[-1]._index]
            parts[-1] = self.subset(np.sort(np.concatenate([np.flatnonzero(out), np.asarray(test, dtype=np.int64)])))
            return tuple(parts)
        fr = np.asarray(fractions, dtype=np.float64)
        if fr.ndim != 1 or len(fr) < 1 or np.any(fr < 0) or abs(fr.sum() - 1.0) > 1e-6:
            raise ValueError(f"split fractions {tuple(fractions)} must be non-negative and sum to 1")
        if by not in SPLIT_MODES:
            raise ValueError(f"split by={by!r} unknown; accepted: {list(SPLIT_MODES)}")
        rng = np.random.default_rng(seed)
        n = self.len()
        if by == "structure":
            perm = rng.permutation(n)
            cuts = np.round(np.cumsum(fr)[:-1] * n).astype(int)
            return tuple(self.subset(np.sort(p)) for p in np.split(perm, cuts))
        mol = self._base.mol_id[self._index]
        unique, counts = np.unique(mol, return_counts=True)
        needed = int((fr > 0).sum())
        if len(unique) < needed:
            raise ValueError(
                f"{self.source}: split by molecule needs at least {needed} molecules, the data has {len(unique)}; "
                "use by='structure'"
            )
        order = rng.permutation(len(unique))
        targets = np.cumsum(fr) * n
        parts: List[List[int]] = [[] for _ in fr]
        filled, part = 0, 0
        for k in order:
            while part < len(fr) - 1 and filled >= targets[part] - 0.5 * counts[k]:
                part += 1
            parts[part].append(unique[k])
            filled += counts[k]
        # a part with fraction 0 stays empty; every other part gets at least one molecule
        nonzero = [int(j) for j in np.flatnonzero(fr > 0)]
        for i in np.flatnonzero(fr == 0):
            keep = max([j for j in nonzero if j < i], default=nonzero[0])
            parts[keep].extend(parts[i])
            parts[i] = []
        for i in nonzero:
            if not parts[i]:
                donor = max(nonzero, key=lambda j: len(parts[j]))
                parts[i].append(parts[donor].pop())
        return tuple(self.subset(np.flatnonzero(np.isin(mol, p))) for p in parts)

    def __repr__(self) -> str:
        return f"AtomsDataset({self.len()} structures from {self.source!r})"


def concat_datasets(datasets: Sequence[AtomsDataset], dtype: Optional[torch.dtype] = None) -> AtomsDataset:
    """One dataset holding all structures of ``datasets`` in order; molecules of different
    datasets keep distinct ids. The float dtype is the first dataset's unless given."""
    if not datasets:
        raise ValueError("concat_datasets needs at least one dataset")
    frames = concat_frames([d.frames for d in datasets], source=" + ".join(d.source for d in datasets))
    return AtomsDataset(frames, dtype=dtype or datasets[0].dtype)
