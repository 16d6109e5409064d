"""Atom-type embedding."""
import torch
from torch import nn


class AtomTypeEmbedding(nn.Module):
    """Learned vector per element.

    Input: ``types`` (N,) long, the index of each atom's element in the model's element
    list (not the atomic number; see ``AtomisticModel.types_from_z``). Output (N, F).
    """

    def __init__(self, num_types: int, features: int):
        super().__init__()
        self.embedding = nn.Embedding(num_types, features)

    def forward(self, types: torch.Tensor) -> torch.Tensor:
        return self.embedding(types)
