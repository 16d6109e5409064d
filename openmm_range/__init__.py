"""openmm-range: RANGE long-range machine-learned force fields for OpenMM.

Public API::

    create_model(name, **hyperparameters) -> model      untrained, names in MODEL_NAMES
    save_model(model, path) / load_model(path)          one self-contained file
    read_metadata(path) -> dict
    export(model, atomic_numbers, periodic=False)       positions-only TorchScript module
                                                        (nm in, kJ/mol out) for OpenMM
"""
__version__ = "0.1.0"

from .api import create_model  # noqa: E402
from .export import export  # noqa: E402
from .registry import MODEL_NAMES  # noqa: E402
from .serialization import load_model, read_metadata, save_model  # noqa: E402

__all__ = ["__version__", "create_model", "save_model", "load_model", "read_metadata", "export", "MODEL_NAMES"]
