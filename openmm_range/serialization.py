"""Saving and loading models: one self-contained file of tensors + JSON metadata.

The file is written with ``torch.save`` and read with ``torch.load(weights_only=True)``,
so loading never executes code from the file. Layout::

    {"format": "openmm-range-model", "format_version": 1,
     "metadata": "<JSON string>", "state_dict": {name: tensor}}

The metadata carries everything a user of the file needs: model name and
hyperparameters, cutoff (Å), elements, units, N_min/N_max, package version, and the
content hash of the training data once trained.
"""
import json
import os
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any, Dict, Union

import torch

from . import __version__
from .files import atomic_write  # noqa: F401 (imported from here by callers)
from .models.atomistic import AtomisticModel
from .models.config import ModelConfig
from .units import INTERNAL_UNITS

FORMAT = "openmm-range-model"
FORMAT_VERSION = 1

PathLike = Union[str, os.PathLike]


def model_metadata(model: AtomisticModel) -> Dict[str, Any]:
    """The metadata dictionary stored with ``model``."""
    cfg = model.config
    meta = dict(model.metadata)
    meta.update({
        "name": cfg.name,
        "cutoff": cfg.cutoff,
        "elements": list(cfg.elements),
        "units": dict(INTERNAL_UNITS),
        "n_min": cfg.n_min,
        "n_max": cfg.n_max,
        "charges": list(cfg.accepted_charges),  # total molecular charges seen in training
        "hyperparameters": cfg.to_dict(),
        "package_version": __version__,
        "dtype": str(model.master_init.dtype).replace("torch.", ""),
    })
    meta.setdefault("training_data_hash", None)
    return meta


def save_model(model: AtomisticModel, path: PathLike) -> None:
    """Write ``model`` to ``path`` (one file; atomic: a crash never leaves a half-written file)."""
    if not isinstance(model, AtomisticModel):
        raise ValueError(f"save_model expects a model from openmm_range.create_model, got {type(model).__name__}")
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "metadata": json.dumps(model_metadata(model), sort_keys=True),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
    }
    atomic_write(path, lambda tmp: torch.save(payload, tmp))


#: What :func:`load_weights_only` says a model file must be.
MODEL_FILE = ("an openmm-range model file (only files written by openmm_range.save_model or by "
              "`openmm-range train` are accepted)")


def load_weights_only(path: PathLike, what: str = MODEL_FILE) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU: tensors, containers and plain values only.

    A file that refers to any other Python object (a class, a function to call) is refused
    before anything in it runs: ValueError naming the file, the object it refers to, and
    ``what`` (the kind of file accepted, e.g. :data:`MODEL_FILE`). A TorchScript archive (from
    ``torch.jit.save``, e.g. an exported module) and a file torch cannot read are refused by name.
    """
    if _is_torchscript(path):
        raise ValueError(f"{str(path)!r} is not {what}: it is a TorchScript module (torch.jit.save, e.g. "
                         f"openmm_range.export's output), which holds code; give the model file it was made from")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Weights only load failed" not in str(exc):
            raise ValueError(f"{str(path)!r} is not {what}: torch.load cannot read it "
                             f"({type(exc).__name__}: {exc})") from None
        found = re.search(r"Unsupported (global: GLOBAL \S+|operand \S+)", str(exc))
        raise ValueError(f"{str(path)!r} is not {what}: it holds pickled Python objects other than tensors and "
                         f"plain values ({found.group(0) if found else 'refused by torch.load(weights_only=True)'}); "
                         f"it was refused and nothing in it was run") from None
    except Exception as exc:  # not a torch file at all
        raise ValueError(f"{str(path)!r} is not {what}: it is not a file written by torch.save "
                         f"({type(exc).__name__}: {exc})") from None


def _is_torchscript(path: PathLike) -> bool:
    """True for a zip archive laid out as torch.jit.save writes it (a ``code/`` folder)."""
    try:
        if not zipfile.is_zipfile(path):
            return False
        with zipfile.ZipFile(path) as archive:
            return any("/code/" in name or name.startswith("code/") for name in archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def _read(path: PathLike) -> Dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file {str(path)!r} does not exist")
    payload = load_weights_only(path)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{str(path)!r} is not an openmm-range model file (missing format tag {FORMAT!r})")
    if not isinstance(payload.get("format_version", 0), int) or not isinstance(payload.get("metadata"), str):
        raise ValueError(f"{str(path)!r} is not an openmm-range model file (its format_version or metadata "
                         f"is malformed)")
    if payload.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(f"{str(path)!r} has format version {payload['format_version']}; this openmm-range "
                         f"reads up to {FORMAT_VERSION}: upgrade the package")
    return payload


def read_metadata(path: PathLike) -> Dict[str, Any]:
    """Metadata of a saved model without building it."""
    return json.loads(_read(path)["metadata"])


def load_model(path: PathLike) -> AtomisticModel:
    """Load a model saved by :func:`save_model` (CPU, eval mode, dtype as saved)."""
    from .api import create_model

    payload = _read(path)
    meta = json.loads(payload["metadata"])
    if not isinstance(meta.get("hyperparameters"), dict) or "name" not in meta["hyperparameters"] \
            or not isinstance(payload.get("state_dict"), dict):
        raise ValueError(f"{str(path)!r} is not an openmm-range model file (no hyperparameters or weights)")
    hyper = dict(meta["hyperparameters"])
    if hyper["name"].startswith("range-"):
        hyper.setdefault("range_form", "paper")  # files written before v2 existed hold the paper's block
        hyper.setdefault("range_scope", "structure")  # ... and before molecules existed, one scope per structure
        hyper.setdefault("master_smooth_width", 0.0)  # ... and before the smooth maximum, the paper's hard one
    hyper.setdefault("long_range", "none")  # files written before the long-range head had none
    config = ModelConfig.from_dict(hyper)
    model = create_model(config.name, **{k: v for k, v in config.to_dict().items() if k != "name"})
    dtype = getattr(torch, meta.get("dtype", "float32"))
    model = model.to(dtype)
    model.load_state_dict(payload["state_dict"], strict=True)
    model.metadata = {k: v for k, v in meta.items()}
    return model.eval()
