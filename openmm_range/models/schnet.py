"""SchNet representation (Schütt et al. 2018) as a RANGE-compatible base model."""
from typing import Tuple

import torch
from torch import nn

from ..nn import AtomTypeEmbedding, SchNetInteraction
from .config import ModelConfig


class SchNetLayer(nn.Module):
    """One SchNet interaction in the common local-layer signature (v is passed through)."""

    def __init__(self, cfg: ModelConfig, num_rbf: int):
        super().__init__()
        self.interaction = SchNetInteraction(cfg.hidden_channels, cfg.num_filters, num_rbf, cfg.activation)

    def forward(self, s: torch.Tensor, v: torch.Tensor, edge_src: torch.Tensor, edge_dst: torch.Tensor,
                rbf: torch.Tensor, fcut: torch.Tensor, unit: torch.Tensor,
                both_ways: bool = False) -> Tuple[torch.Tensor, torch.Tensor]:
        return self.interaction(s, edge_src, edge_dst, rbf, fcut, both_ways), v


class SchNetRepresentation(nn.Module):
    """SchNet: element embedding and ``num_interactions`` continuous-filter convolutions."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.num_rbf = cfg.resolved_num_rbf()
        self.embedding = AtomTypeEmbedding(len(cfg.elements), cfg.hidden_channels)
        self.local_layers = nn.ModuleList([SchNetLayer(cfg, self.num_rbf) for _ in range(cfg.num_interactions)])

    def embed(self, types: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        s = self.embedding(types)
        return s, torch.zeros(0, dtype=s.dtype, device=s.device)
