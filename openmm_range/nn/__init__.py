"""Neural-network building blocks, one file each (see docs/architecture.md)."""
from .radial import GaussianRBF
from .cutoff import CosineCutoff
from .embedding import AtomTypeEmbedding
from .mlp import MLP, activation
from .schnet_interaction import SchNetInteraction
from .painn_message import PaiNNMessage
from .painn_update import PaiNNUpdate
from .range_block import RangeBlock
from .readout import AtomwiseReadout

__all__ = [
    "GaussianRBF", "CosineCutoff", "AtomTypeEmbedding", "MLP", "activation", "SchNetInteraction",
    "PaiNNMessage", "PaiNNUpdate", "RangeBlock", "AtomwiseReadout",
]
