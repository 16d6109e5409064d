"""Atomwise readout with per-element energy shift and scale."""
from typing import List

import torch
from torch import nn

from .mlp import MLP


class AtomwiseReadout(nn.Module):
    """Atomic energies ``E_i = scale[type_i] * MLP(s_i) + shift[type_i]`` in eV.

    The paper's output MLP has two hidden layers [128, 64]. ``shift``/``scale`` are
    buffers set from training-set statistics (per-element reference energies by least
    squares, and a force-based scale), so the network learns an O(1) residual.

    Shapes: s (N, h); types (N,) long. Output (N,) eV.
    """

    def __init__(self, hidden: int, num_types: int, layers: List[int], act: str = "tanh"):
        super().__init__()
        self.mlp = MLP([hidden] + list(layers) + [1], act)
        self.register_buffer("shift", torch.zeros(num_types))
        self.register_buffer("scale", torch.ones(num_types))

    def forward(self, s: torch.Tensor, types: torch.Tensor) -> torch.Tensor:
        return self.mlp(s).squeeze(-1) * self.scale[types] + self.shift[types]
