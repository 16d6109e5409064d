"""Checkpoints of a running simulation, so that a long MD run resumes where it stopped.

One file (a zip archive, written atomically) holds:

* ``meta.json``: format, the step reached, the run's settings (a resumed run must have the same
  ones), the reference bond lengths of the bond check (nm) and, with constrained X-H bonds,
  the constrained pairs and their lengths (nm);
* ``context.chk``: OpenMM's binary context checkpoint (positions, velocities, box, the
  integrator's random-number state): a resume from it on the same platform and OpenMM version
  continues the trajectory the uninterrupted run makes (tests/openmm/test_md_checkpoint.py: the
  same DCD frames bit for bit after a SIGKILL, energies to 1e-9 relative);
* ``state.xml``: the same state as an OpenMM ``State`` (portable: used when the binary
  checkpoint cannot be loaded, e.g. on another platform; the thermostat's random numbers then
  differ from those of the uninterrupted run).

Reading one never executes code from it: the archive is read with :mod:`zipfile` and
:mod:`json`, and ``state.xml`` is deserialised only when its root element is a ``State``
(a serialised ``System`` may carry a pickled PythonForce, which OpenMM would unpickle).

Trajectory files are cut back to the checkpoint's step before a resumed run appends to them:
:func:`truncate_dcd` and :func:`truncate_csv`.
"""
import json
import os
import struct
import zipfile
import zlib
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Dict, Optional

import numpy as np
import openmm

from openmm_range.serialization import atomic_write

FORMAT = "openmm-range-md-checkpoint"
FORMAT_VERSION = 1
#: bytes of a DCD header before its title block (OpenMM's DCDFile; the title length is stored at 92)
_DCD_TITLE_LENGTH_OFFSET = 92


def write_checkpoint(path: Path, context: openmm.Context, step: int, settings: Dict,
                     bond_reference_nm: Optional[np.ndarray], constraints: Optional[Dict] = None) -> None:
    """Write the checkpoint of ``context`` at MD step ``step`` to ``path`` (atomically).
    ``constraints``: {"pairs": [[i, j], ...], "lengths_nm": [...]} of a run with constrained X-H bonds."""
    state = context.getState(getPositions=True, getVelocities=True, getParameters=True)
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "step": int(step), "settings": settings,
            "bond_reference_nm": None if bond_reference_nm is None else [float(x) for x in bond_reference_nm],
            "constraints": constraints}
    binary = context.createCheckpoint()

    def write(tmp):
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("meta.json", json.dumps(meta, indent=1))
            archive.writestr("context.chk", binary)
            archive.writestr("state.xml", openmm.XmlSerializer.serialize(state))

    atomic_write(path, write)


def read_checkpoint(path: Path) -> Dict:
    """The checkpoint at ``path``: ``{"meta": dict, "context": bytes, "state_xml": str}``.

    ValueError naming the file when it is not an openmm-range MD checkpoint.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            meta = json.loads(archive.read("meta.json"))
            context = archive.read("context.chk")
            state_xml = archive.read("state.xml").decode("utf-8")
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError, json.JSONDecodeError, zlib.error, EOFError) as exc:
        raise ValueError(f"{path} is not an openmm-range MD checkpoint (written by `openmm-range simulate "
                         f"--checkpoint`): {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not an openmm-range MD checkpoint (format {FORMAT!r} expected)")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: MD checkpoint format version {meta.get('format_version')!r} is not supported; "
                         f"accepted: {FORMAT_VERSION}")
    if not isinstance(meta.get("step"), int) or meta["step"] < 0:
        raise ValueError(f"{path}: the checkpoint's step must be a non-negative integer, got {meta.get('step')!r}")
    if not isinstance(meta.get("settings"), dict):
        raise ValueError(f"{path}: the checkpoint holds no run settings (a mapping expected under 'settings')")
    return {"meta": meta, "context": context, "state_xml": state_xml}


def check_settings(path: Path, saved: Dict, current: Dict) -> None:
    """ValueError naming every setting in which the run to resume differs from the checkpoint's."""
    keys = sorted(set(saved) | set(current))
    differ = [f"{k}: checkpoint {saved.get(k)!r}, now {current.get(k)!r}" for k in keys if saved.get(k) != current.get(k)]
    if differ:
        raise ValueError(f"cannot resume from {path}: the run's settings differ from the checkpoint's ("
                         + "; ".join(differ) + "). Resume with the same settings, or start a new run "
                         "with another checkpoint file")


#: force evaluations right after a restore, before the first step: TorchScript runs a module's
#: first calls through its profiling executor, whose float32 rounding can differ from the optimised
#: graph's (a review saw a resumed DHA run drift from the uninterrupted one by float32 ulps; not
#: reproduced here, where both agree bit for bit with and without these calls). Five calls bring
#: the fresh process's model to the state the uninterrupted run's model was in; they cost nothing
#: to the state.
SETTLING_EVALUATIONS = 5


def restore(context: openmm.Context, checkpoint: Dict) -> bool:
    """Load ``checkpoint`` into ``context``; True when exactly (binary checkpoint), False when from the
    portable state (another platform or OpenMM version). Then evaluates the forces
    SETTLING_EVALUATIONS times (the state is unchanged by it)."""
    try:
        context.loadCheckpoint(checkpoint["context"])
        exact = True
    except openmm.OpenMMException:
        try:
            root = ElementTree.fromstring(checkpoint["state_xml"])
        except ElementTree.ParseError as exc:
            raise ValueError(f"the checkpoint's state.xml is not valid XML ({exc}); refused") from None
        if root.tag != "State":
            raise ValueError(f"the checkpoint's state.xml holds a {root.tag!r}, not an OpenMM State; refused")
        context.setState(openmm.XmlSerializer.deserialize(checkpoint["state_xml"]))
        exact = False
    for _ in range(SETTLING_EVALUATIONS):
        context.getState(getEnergy=True, getForces=True)
    return exact


def _dcd_layout(path: Path):
    """(header bytes, frame bytes, frames counted in the header, atoms) of an OpenMM DCD file."""
    with open(path, "rb") as handle:
        head = handle.read(_DCD_TITLE_LENGTH_OFFSET + 4)
        if len(head) < _DCD_TITLE_LENGTH_OFFSET + 4 or head[4:8] != b"CORD":
            raise ValueError(f"{path} is not a DCD file")
        frames = struct.unpack("<i", head[8:12])[0]
        has_box = struct.unpack("<i", head[48:52])[0] != 0  # after 9 ints and the time step
        title_bytes = struct.unpack("<i", head[_DCD_TITLE_LENGTH_OFFSET:_DCD_TITLE_LENGTH_OFFSET + 4])[0]
        handle.seek(104 + title_bytes)
        atoms = struct.unpack("<i", handle.read(4))[0]
    header = 104 + title_bytes + 8
    frame = (56 if has_box else 0) + 3 * (8 + 4 * atoms)
    return header, frame, frames, atoms


def truncate_dcd(path: Path, frames: int) -> None:
    """Cut the OpenMM DCD file ``path`` back to its first ``frames`` frames (in place).

    ValueError when it holds fewer: frames the checkpoint counts on are missing.
    """
    header, frame, counted, _ = _dcd_layout(path)
    present = (os.path.getsize(path) - header) // frame
    if present < frames:
        raise ValueError(f"cannot resume: {path} holds {present} frames, the checkpoint needs {frames}")
    with open(path, "r+b") as handle:
        handle.truncate(header + frames * frame)
        handle.seek(8)
        handle.write(struct.pack("<i", frames))
        if frames:  # the step of the last frame: first step + (frames - 1) * interval (OpenMM's DCDFile)
            handle.seek(12)
            first, interval = struct.unpack("<2i", handle.read(8))
            handle.seek(20)
            handle.write(struct.pack("<i", first + (frames - 1) * interval))


def truncate_csv(path: Path, rows: int) -> None:
    """Keep the header line and the first ``rows`` data lines of the CSV log ``path`` (atomically)."""
    lines = Path(path).read_text().splitlines(keepends=True)
    if len(lines) - 1 < rows:
        raise ValueError(f"cannot resume: {path} holds {max(len(lines) - 1, 0)} rows, the checkpoint needs {rows}")
    text = "".join(lines[:rows + 1])
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def sha256(path: Path) -> str:
    """SHA-256 of the file ``path`` (hex)."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


__all__ = ["write_checkpoint", "read_checkpoint", "check_settings", "restore", "truncate_dcd", "truncate_csv",
           "sha256"]
