"""Assembled models: base representations (SchNet, PaiNN), RANGE wrapping, config."""
from .atomistic import AtomisticModel
from .config import ModelConfig

__all__ = ["AtomisticModel", "ModelConfig"]
