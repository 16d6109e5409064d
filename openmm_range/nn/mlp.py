"""Multilayer perceptron and activation lookup."""
from typing import List

import torch
from torch import nn

_ACTIVATIONS = {"tanh": nn.Tanh, "silu": nn.SiLU, "ssp": None}


class ShiftedSoftplus(nn.Module):
    """``softplus(x) - log 2`` (SchNet's activation)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.softplus(x) - 0.6931471805599453


class SmoothLeakyReLU(nn.Module):
    """``s x + (1 - s) softplus(x)``: LeakyReLU's slopes (``s`` for x << 0, 1 for x >> 0)
    without the kink at 0, so forces built on it are continuous in their derivative too.

    It equals the smooth LeakyReLU through the origin, ``s x + (1 - s)(softplus(x) - log 2)``,
    plus the constant ``(1 - s) log 2``. Attention scores ``a . act(.)`` then all shift by
    ``(1 - s) log 2 sum(a)``, the same for every entry of one softmax, so the attention
    weights are identical; leaving the constant out saves two operations per call."""

    def __init__(self, negative_slope: float = 0.2):
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.negative_slope
        return torch.add(nn.functional.softplus(x) * (1.0 - s), x, alpha=s)


class LeakyReLU(nn.Module):
    """``x`` for x > 0, ``s x`` otherwise: torch's LeakyReLU, written out so that its derivative is
    ``s`` in the input's precision. (In TorchScript, the backward of ``nn.LeakyReLU`` rounds the
    slope to float32, 0.2 -> 0.2 + 3e-9: float64 forces of an exported model then differed from
    the gradient of its energy by ~5e-10 relative.) No parameters: model files are unchanged."""

    def __init__(self, negative_slope: float = 0.2):
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.where(x > 0, x, x * self.negative_slope)


#: attention score activations of the RANGE block
ATTENTION_ACTIVATIONS = ("leaky_relu", "smooth_leaky_relu")


def attention_activation(name: str, negative_slope: float = 0.2) -> nn.Module:
    """'leaky_relu' (GATv2, the paper) or 'smooth_leaky_relu' (same slopes, no kink)."""
    if name == "leaky_relu":
        return LeakyReLU(negative_slope)
    if name == "smooth_leaky_relu":
        return SmoothLeakyReLU(negative_slope)
    raise ValueError(f"unknown attention activation {name!r}; accepted: {list(ATTENTION_ACTIVATIONS)}")


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
