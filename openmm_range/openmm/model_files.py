"""Finding the model file behind ``MLPotential(name[, modelPath=...])`` and checking it.

Shipped models live in the repository's top-level ``serialized_models/<name>.pt`` (one per
potential name, with its model card ``<name>.md``; ``openmm-range publish`` writes there).
Building a wheel copies them into the package as ``openmm_range/serialized_models/``
(setup.py), which is where an installed copy finds them; a source checkout or an editable
install reads the top-level folder. A user's own file, written by
:func:`openmm_range.save_model` or by training, is passed as ``modelPath``. Files are read
with ``torch.load(weights_only=True)``: loading a model never executes code from the file.
"""
import os
from pathlib import Path
from typing import Any, Dict, Optional, Union

_PACKAGE_DIR = Path(__file__).resolve().parent.parent
#: Directories searched for shipped models, in order: inside the package, then the
#: source checkout's top level.
SHIPPED_DIRS = (_PACKAGE_DIR / "serialized_models", _PACKAGE_DIR.parent / "serialized_models")


class ModelNotInstalledError(FileNotFoundError):
    """No shipped model of the requested name is installed, and no ``modelPath`` was given."""


def shipped_model_path(name: str) -> Path:
    """Path of the shipped model ``name``: the first existing one, else the package location."""
    for directory in SHIPPED_DIRS:
        if (directory / f"{name}.pt").is_file():
            return directory / f"{name}.pt"
    return SHIPPED_DIRS[0] / f"{name}.pt"


def model_file_or_name(spec: str) -> Path:
    """The model file ``spec`` names: a path, or a shipped potential name (``range-schnet``) that is
    not a file. FileNotFoundError naming both kinds when it is neither (the CLI's MODEL argument)."""
    from ..registry import POTENTIAL_NAMES

    path = Path(spec)
    if path.is_file():
        return path
    if spec in POTENTIAL_NAMES:
        return resolve_model_file(spec, None)
    raise FileNotFoundError(f"{spec!r} is neither a model file nor a shipped model name ({', '.join(POTENTIAL_NAMES)})")


def resolve_model_file(name: str, model_path: Optional[Union[str, os.PathLike]]) -> Path:
    """The model file for potential ``name``: ``model_path`` if given, else the shipped one.

    Raises FileNotFoundError if ``model_path`` does not exist, and ModelNotInstalledError
    (a FileNotFoundError) saying how to pass a file when no shipped model is installed.
    """
    if model_path is not None:
        path = Path(model_path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"modelPath {str(model_path)!r} does not exist or is not a file; pass the .pt "
                                    f"file written by openmm_range.save_model or by `openmm-range train`")
        return path
    path = shipped_model_path(name)
    if not path.is_file():
        raise ModelNotInstalledError(
            f"no shipped {name!r} model is installed (looked in {' and '.join(str(d) for d in SHIPPED_DIRS)}); "
            f"pass your own model file: "
            f"MLPotential({name!r}, modelPath='model.pt'), where model.pt was written by "
            f"openmm_range.save_model or by `openmm-range train`")
    return path


def read_checked_metadata(name: str, path: Path) -> Dict[str, Any]:
    """Metadata of the model file ``path``, checked to hold architecture ``name``.

    Raises ValueError if the file is not a model file or holds another architecture.
    """
    from ..registry import architecture_of
    from ..serialization import read_metadata

    metadata = read_metadata(path)
    stored = metadata.get("name")
    if stored != architecture_of(name):
        raise ValueError(f"model file {str(path)!r} holds a {stored!r} model, but the potential was created as "
                         f"{name!r}; use MLPotential({stored!r}, modelPath=...) for this file")
    for key in ("cutoff", "elements"):
        if key not in metadata:
            raise ValueError(f"model file {str(path)!r} lacks the metadata key {key!r}; re-save it with "
                             f"openmm_range.save_model")
    return metadata
