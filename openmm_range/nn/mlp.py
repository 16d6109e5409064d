"""Multilayer perceptron and activation lookup."""
from typing import List

import torch
from torch import nn

_ACTIVATIONS = {"tanh": nn.Tanh, "silu": nn.SiLU, "ssp": None}


class ShiftedSoftplus(nn.Module):
    """``softplus(x) - log 2`` (SchNet's activation)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.softplus(x) - 0.6931471805599453


def activation(name: str) -> nn.Module:
    """Activation module by name: 'tanh' (paper default), 'silu' or 'ssp'."""
    if name == "ssp":
        return ShiftedSoftplus()
    if name not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; accepted: {sorted(_ACTIVATIONS)}")
    return _ACTIVATIONS[name]()


class MLP(nn.Sequential):
    """Linear layers of widths ``sizes`` with ``act`` between them (none after the last)."""

    def __init__(self, sizes: List[int], act: str = "tanh", bias_last: bool = True):
        layers: List[nn.Module] = []
        for k in range(len(sizes) - 1):
            last = k == len(sizes) - 2
            layers.append(nn.Linear(sizes[k], sizes[k + 1], bias=bias_last or not last))
            if not last:
                layers.append(activation(act))
        super().__init__(*layers)
