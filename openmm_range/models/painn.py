"""PaiNN representation (Schütt et al. 2021) as a RANGE-compatible base model."""
from typing import Tuple

import torch
from torch import nn

from ..nn import AtomTypeEmbedding, PaiNNMessage, PaiNNUpdate
from .config import ModelConfig


class PaiNNLayer(nn.Module):
    """PaiNN message followed by update, on scalar s (N, F) and vector v (N, 3, F) features."""

    def __init__(self, cfg: ModelConfig, num_rbf: int, first: bool = False):
        super().__init__()
        self.message = PaiNNMessage(cfg.hidden_channels, num_rbf, cfg.activation, zero_vectors=first)
        self.update = PaiNNUpdate(cfg.hidden_channels, cfg.activation)

    def forward(self, s: torch.Tensor, v: torch.Tensor, edge_src: torch.Tensor, edge_dst: torch.Tensor,
                rbf: torch.Tensor, fcut: torch.Tensor, unit: torch.Tensor,
                both_ways: bool = False) -> Tuple[torch.Tensor, torch.Tensor]:
        s, v = self.message(s, v, edge_src, edge_dst, rbf, fcut, unit, both_ways)
        return self.update(s, v)


class PaiNNRepresentation(nn.Module):
    """PaiNN: element embedding, zero initial vectors, ``num_interactions`` message+update layers.

    RANGE updates only the scalar channel; long-range information reaches the vector
    features through PaiNN's own scalar-vector mixing in the next layer.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.num_rbf = cfg.resolved_num_rbf()
        self.features = cfg.hidden_channels
        self.embedding = AtomTypeEmbedding(len(cfg.elements), cfg.hidden_channels)
        self.local_layers = nn.ModuleList([PaiNNLayer(cfg, self.num_rbf, first=k == 0)
                                           for k in range(cfg.num_interactions)])

    def embed(self, types: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        s = self.embedding(types)
        return s, torch.zeros(s.shape[0], 3, self.features, dtype=s.dtype, device=s.device)
