"""Export of trained models to positions-only TorchScript modules (see exported.py)."""
from .exported import ExportedModel, ExportedModelWithForces, default_max_neighbors, export

__all__ = ["export", "ExportedModel", "ExportedModelWithForces", "default_max_neighbors"]
