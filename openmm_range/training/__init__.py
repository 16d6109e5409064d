"""Training pipeline: the paper's recipe, resumable, data-parallel (torchrun)."""
from .config import TrainConfig
from .trainer import train

__all__ = ["TrainConfig", "train"]
