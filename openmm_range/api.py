"""Public entry points: create_model, save_model, load_model, export."""
from typing import Any

from .models.atomistic import AtomisticModel
from .models.config import ModelConfig
from .registry import build_representation, check_name


def create_model(name: str, **hyperparameters: Any) -> AtomisticModel:
    """An untrained model of architecture ``name`` (see ``openmm_range.registry.MODEL_NAMES``).

    Hyperparameters (all optional; lengths in Å): ``cutoff`` (5.0), ``hidden_channels``
    (128), ``num_filters``, ``num_interactions`` (3), ``num_rbf`` (paper's count for the
    cutoff), ``activation`` ("tanh"), ``readout_layers`` ((128, 64)), ``elements``
    (symbols or atomic numbers), and for ``range-*``: ``num_heads`` (16),
    ``num_master_nodes`` (3), ``num_master_rbf`` (7), ``n_min``/``n_max``.
    """
    check_name(name)
    config = ModelConfig.from_dict({"name": name, **hyperparameters})
    return AtomisticModel(config, build_representation(config))
