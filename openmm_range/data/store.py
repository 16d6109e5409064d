r"""The package's own dataset files: NumPy ``.npz`` arrays plus JSON metadata, never pickle.

Two layouts share one set of array keys:

* a **dataset directory** (what ``openmm-range data generate`` writes)::

      data/<name>/meta.json              provenance: spec, tblite version, molecules, ...
      data/<name>/chunks/task-000017.npz one chunk per finished sampling task

  Chunks are append-only and each is written atomically (temporary file, fsync,
  ``os.replace``), so a generator killed at any moment leaves only whole chunks;
  a restart skips tasks whose chunk exists. Loading concatenates chunks in task order.

* a **single file** ``something.npz`` (``openmm-range data convert``), holding the same
  arrays plus ``meta_json`` and ``molecules_json``.

Array keys (S structures, A atoms in total; units are the internal ones):

=========== ======= ========= ===========================================
key         shape   dtype     meaning
=========== ======= ========= ===========================================
format      ()      str       ``"openmm-range-frames/1"``
z           (A,)    uint8     atomic numbers
pos         (A, 3)  float32*  positions, Å (generated labels were computed on exactly these values)
forces      (A, 3)  float32*  forces, eV/Å (float32 rounding: ~1e-7 relative, far below label noise)
energy      (S,)    float64   total energy, eV (float64: totals are ~1e3 eV)
n_atoms     (S,)    int32     atoms per structure
mol_id      (S,)    int32     index into the molecule table
charge      (S,)    int32     total charge, e
spin        (S,)    int32     unpaired electrons
fragment    (A,)    int32     optional: molecule of each atom within its structure
fragment_charge (A,) int32    optional: total charge of that molecule, e
=========== ======= ========= ===========================================

A dataset directory stores no ``fragment`` arrays: they follow from ``meta.json``'s molecule
table, whose records of multi-molecule structures (dimers) list ``fragments`` (atoms per
molecule) and ``fragment_charges``.

\* chunks written by the generator use float32; single files default to float64, so that
converting a float64 dataset keeps it (and its content hash) exactly.

Chunks also hold ``task_id`` (int64 scalar) and ``info_json`` (str: the task's
sampler settings, seeds, timings and failures).
"""
import glob
import json
import os
import re
import zipfile
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from openmm_range.data.frames import Frames
from openmm_range.files import TMP_SUFFIX, atomic_write

FORMAT_TAG = "openmm-range-frames/1"
META_FILE = "meta.json"
CHUNK_DIR = "chunks"
_ARRAY_DTYPES = {
    "z": np.uint8,
    "pos": np.float32,
    "forces": np.float32,
    "energy": np.float64,
    "n_atoms": np.int32,
    "mol_id": np.int32,
    "charge": np.int32,
    "spin": np.int32,
}


def write_npz_atomic(path: str, arrays: Dict[str, np.ndarray]) -> None:
    """Write a compressed .npz to ``path`` atomically: a reader sees the old file, or the whole new one."""
    def write(tmp):
        with open(tmp, "wb") as handle:  # a handle: given a path, numpy would append ".npz" to it
            np.savez_compressed(handle, **arrays)

    atomic_write(path, write)


def write_json_atomic(path: str, obj) -> None:
    """Write JSON (sorted keys, indented) atomically."""
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n"))


def frames_to_arrays(frames: Frames, float_dtype=np.float32) -> Dict[str, np.ndarray]:
    """The storage arrays of ``frames`` (storage dtypes, see module docstring); ``pos`` and
    ``forces`` are written as ``float_dtype`` (float32 or float64)."""
    if np.dtype(float_dtype) not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"float_dtype must be float32 or float64, got {float_dtype}")
    out = {"format": np.array(FORMAT_TAG)}
    for key, dtype in _ARRAY_DTYPES.items():
        out[key] = np.asarray(getattr(frames, key)).astype(float_dtype if key in ("pos", "forces") else dtype)
    if frames.fragment is not None:
        out["fragment"] = frames.fragment.astype(np.int32)
        out["fragment_charge"] = frames.fragment_charge.astype(np.int32)
    return out


def _read_npz(path: str) -> Dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except (EOFError, zipfile.BadZipFile):
        raise ValueError(f"{path}: empty or truncated (not a complete .npz archive)") from None
    except ValueError as exc:
        raise ValueError(f"{path}: cannot be read without pickle ({exc}); only plain arrays are accepted") from None


def _arrays_to_frames(arrays: Dict[str, np.ndarray], molecules: List[str], source: str, metadata: Dict) -> Frames:
    for key in _ARRAY_DTYPES:
        if key not in arrays:
            raise ValueError(f"{source}: missing key {key!r}; an {FORMAT_TAG} file needs {sorted(_ARRAY_DTYPES)}")
    fragment = arrays.get("fragment")
    fragment_charge = arrays.get("fragment_charge")
    if fragment is None and metadata.get("molecules"):
        fragment, fragment_charge = _fragments_from_table(arrays, metadata["molecules"])
    for key in ("z", "n_atoms", "mol_id", "charge", "spin"):  # the package's own files store these as integers
        if arrays[key].dtype.kind not in "iu":
            raise ValueError(f"{source}: key {key!r} has dtype {arrays[key].dtype}; an {FORMAT_TAG} file stores it "
                             f"as integers")
    return Frames(
        fragment=None if fragment is None else np.asarray(fragment, dtype=np.int64),
        fragment_charge=None if fragment_charge is None else np.asarray(fragment_charge, dtype=np.int64),
        z=arrays["z"].astype(np.int64),
        pos=arrays["pos"].astype(np.float64),
        energy=arrays["energy"].astype(np.float64),
        forces=arrays["forces"].astype(np.float64),
        n_atoms=arrays["n_atoms"].astype(np.int64),
        mol_id=arrays["mol_id"].astype(np.int64),
        charge=arrays["charge"].astype(np.int64),
        spin=arrays["spin"].astype(np.int64),
        molecules=list(molecules),
        source=source,
        metadata=metadata,
    ).validate()


def _fragments_from_table(arrays: Dict[str, np.ndarray], table: List[Dict]):
    """Per-atom (fragment, fragment_charge) from a molecule table; (None, None) if no record has fragments."""
    if not any(isinstance(m, dict) and m.get("fragments") for m in table):
        return None, None
    pieces, charges = [], []
    for mol, n, q in zip(arrays["mol_id"].astype(np.int64), arrays["n_atoms"].astype(np.int64),
                         arrays["charge"].astype(np.int64)):
        record = table[mol] if 0 <= mol < len(table) else {}
        sizes = record.get("fragments") or [int(n)]
        frag_q = record.get("fragment_charges") or [int(q)]
        if sum(sizes) != n or len(frag_q) != len(sizes):
            raise ValueError(f"molecule table entry {mol} ({record.get('name')!r}): fragments {sizes} / "
                             f"fragment_charges {frag_q} do not match a structure of {int(n)} atoms")
        pieces.append(np.repeat(np.arange(len(sizes)), sizes))
        charges.append(np.repeat(np.asarray(frag_q, dtype=np.int64), sizes))
    return np.concatenate(pieces), np.concatenate(charges)


def is_frames_npz(path: str) -> bool:
    """True if ``path`` is a single-file dataset of this package (has ``format`` = FORMAT_TAG)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            return "format" in npz.files and str(npz["format"]) == FORMAT_TAG
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return False


def save_frames(frames: Frames, path: str, metadata: Optional[Dict] = None, float_dtype=np.float64) -> None:
    """Write ``frames`` as one compressed .npz (atomically). float64 (default) keeps the data
    and its content hash exactly; float32 halves the size."""
    arrays = frames_to_arrays(frames, float_dtype=float_dtype)
    arrays["molecules_json"] = np.array(json.dumps(frames.molecules))
    arrays["meta_json"] = np.array(json.dumps(metadata if metadata is not None else frames.metadata, sort_keys=True))
    write_npz_atomic(path, arrays)


def load_frames_npz(path: str) -> Frames:
    """Read a single-file dataset written by :func:`save_frames`."""
    arrays = _read_npz(path)
    if "format" not in arrays or str(arrays["format"]) != FORMAT_TAG:
        raise ValueError(f"{path}: key 'format' is missing or not {FORMAT_TAG!r}")
    for key in ("molecules_json", "meta_json"):
        if key not in arrays:
            raise ValueError(f"{path}: missing key {key!r}")
    return _arrays_to_frames(arrays, json.loads(str(arrays["molecules_json"])), path, json.loads(str(arrays["meta_json"])))


# --- dataset directories --------------------------------------------------------------------------


def chunk_path(directory: str, task_id: int) -> str:
    """Path of task ``task_id``'s chunk in a dataset directory."""
    return os.path.join(directory, CHUNK_DIR, f"task-{task_id:06d}.npz")


def is_dataset_dir(path: str) -> bool:
    """True if ``path`` is a dataset directory (holds meta.json)."""
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, META_FILE))


def read_meta(directory: str) -> Dict:
    """The meta.json of a dataset directory."""
    path = os.path.join(directory, META_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{directory}: no {META_FILE}; not a dataset directory written by 'openmm-range data generate'")
    with open(path) as handle:
        return json.load(handle)


def write_chunk(directory: str, task_id: int, frames: Frames, info: Dict) -> str:
    """Store one finished task's structures as an atomic chunk; returns its path."""
    arrays = frames_to_arrays(frames)
    arrays["task_id"] = np.array(task_id, dtype=np.int64)
    arrays["info_json"] = np.array(json.dumps(info, sort_keys=True))
    path = chunk_path(directory, task_id)
    write_npz_atomic(path, arrays)
    return path


def list_chunks(directory: str) -> List[str]:
    """Finished chunk files in task order (temporary files of interrupted writes are ignored)."""
    return sorted(glob.glob(os.path.join(directory, CHUNK_DIR, "task-*.npz")))


def done_task_ids(directory: str) -> List[int]:
    """Task ids that already have a chunk."""
    ids = (re.fullmatch(r"task-(\d+)\.npz", os.path.basename(p)) for p in list_chunks(directory))
    return [int(m[1]) for m in ids if m]


def remove_stale_tmp(directory: str) -> int:
    """Delete temporary files left by writes that were killed (:func:`openmm_range.files.atomic_write`'s
    ``.<name>.<random>.tmp``, and ``<name>.tmp-<pid>`` of older versions); returns how many."""
    stale = [path for folder in (os.path.join(directory, CHUNK_DIR), directory)
             for pattern in (f".*{TMP_SUFFIX}", "*.tmp-*") for path in glob.glob(os.path.join(folder, pattern))]
    for path in stale:
        os.remove(path)
    return len(stale)


def read_chunk_info(path: str) -> Dict:
    """The ``info_json`` record of a chunk (sampling, timings, per-structure extras)."""
    with np.load(path, allow_pickle=False) as npz:
        return json.loads(str(npz["info_json"])) if "info_json" in npz.files else {}


def load_dataset_dir(directory: str) -> Frames:
    """All chunks of a dataset directory as one Frames (task order), metadata = meta.json."""
    meta = read_meta(directory)
    molecules = [m["name"] for m in meta.get("molecules", [])]
    chunks = list_chunks(directory)
    if not chunks:
        raise ValueError(f"{directory}: has {META_FILE} but no chunks yet in {CHUNK_DIR}/ (generation not started?)")
    parts = {key: [] for key in _ARRAY_DTYPES}
    for path in chunks:
        arrays = _read_npz(path)
        for key in _ARRAY_DTYPES:
            if key not in arrays:
                raise ValueError(f"{path}: missing key {key!r}")
            parts[key].append(arrays[key])
    merged = {key: np.concatenate(vals) for key, vals in parts.items()}
    if not molecules:
        molecules = [f"mol{i}" for i in range(int(merged["mol_id"].max()) + 1)]
    meta = dict(meta)
    meta["n_chunks"] = len(chunks)
    return _arrays_to_frames(merged, molecules, directory, meta)
