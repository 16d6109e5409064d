"""Atomic, durable file writes: a reader sees the old file or the whole new one, and a machine
that stops right after a write (power loss, a killed cluster node) keeps the new one."""
import csv
import io
import os
import tempfile
from pathlib import Path
from typing import Callable, Dict, Sequence, Union

PathLike = Union[str, "os.PathLike[str]"]

#: temporary files of :func:`atomic_write` are ``.<name>.<random><TMP_SUFFIX>`` beside the target
TMP_SUFFIX = ".tmp"


def _fsync(path: PathLike) -> None:
    """Flush ``path`` (a file or a directory) to disk; filesystems that cannot are let be."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: PathLike, write: Callable[[str], object]) -> None:
    """Call ``write(tmp_path)`` (a file beside ``path``), flush it to disk, then rename it to
    ``path`` and flush the directory. On any error the temporary file is removed and ``path`` is
    left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        _fsync(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync(path.parent)


def write_text_atomic(path: PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write`)."""
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def write_csv_atomic(path: PathLike, rows: Sequence[Dict]) -> None:
    """Write ``rows`` (dicts with the same keys, in order) as CSV with a header, atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else [], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(path, buffer.getvalue())
