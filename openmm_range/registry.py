"""The one list of model architectures, shared by the API, the CLI, the OpenMM plugin and the tests."""
from typing import Callable, Dict

from torch import nn

from .models.config import ModelConfig
from .models.painn import PaiNNRepresentation
from .models.schnet import SchNetRepresentation

#: base-model name -> representation class implementing the interface in models/representation.py
BASE_MODELS: Dict[str, Callable[[ModelConfig], nn.Module]] = {
    "schnet": SchNetRepresentation,
    "painn": PaiNNRepresentation,
}

#: every architecture name: each base model, and each base model wrapped by RANGE
MODEL_NAMES = tuple(list(BASE_MODELS) + [f"range-{b}" for b in BASE_MODELS])
RANGE_MODEL_NAMES = tuple(n for n in MODEL_NAMES if n.startswith("range-"))

#: every potential name of the OpenMM plugin (``MLPotential(name)``) and the CLI -> the architecture
#: its model file holds. Each architecture is a potential of the same name; ``schnet-long`` is the
#: SchNet baseline with the long cutoff chosen on validation data (see its model card).
POTENTIAL_NAMES: Dict[str, str] = {**{n: n for n in MODEL_NAMES}, "schnet-long": "schnet"}


def check_name(name: str) -> str:
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown model {name!r}; accepted: {', '.join(MODEL_NAMES)}")
    return name


def architecture_of(potential: str) -> str:
    """Architecture behind the potential name ``potential``; ValueError naming the accepted ones."""
    if potential not in POTENTIAL_NAMES:
        raise ValueError(f"unknown potential {potential!r}; accepted: {', '.join(POTENTIAL_NAMES)}")
    return POTENTIAL_NAMES[potential]


def build_representation(config: ModelConfig) -> nn.Module:
    return BASE_MODELS[config.base](config)
