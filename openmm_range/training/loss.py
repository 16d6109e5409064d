"""The training loss and error metrics."""
from typing import Dict, Optional, Tuple

import torch


def predict(model, batch) -> Tuple[torch.Tensor, torch.Tensor]:
    """Energies (B,) eV and forces (N, 3) eV/Å for a torch-geometric batch (graph kept for training)."""
    pos = batch.pos.detach().requires_grad_(True)
    energy = model(batch.z, pos, batch.batch, **molecule_inputs(batch))
    (grad,) = torch.autograd.grad(energy.sum(), pos, create_graph=model.training)
    return energy, -grad


def molecule_inputs(batch) -> Dict[str, torch.Tensor]:
    """``molecules`` and per-molecule ``charges`` of a batch, as :meth:`AtomisticModel.forward` takes them."""
    from ..models.atomistic import molecule_groups

    _, _, first = molecule_groups(batch.batch, batch.fragment)
    return {"molecules": batch.fragment, "charges": batch.fragment_charge[first]}


def loss_terms(model, batch, alpha: float, per_atom: bool = False, energy_weight: float = 1.0,
               force_weight: float = 1.0, totals: Optional[Tuple[int, int]] = None
               ) -> Tuple[torch.Tensor, Dict[str, float]]:
    """Data loss of one batch (eV units) and its error sums.

    ``per_atom=False``: the paper's unnormalised ``alpha * sum_mol dE^2 + sum_atoms |dF|^2``.
    ``per_atom=True``: ``energy_weight * mean_mol (dE / N)^2 + force_weight * mean_components dF^2``,
    independent of batch and molecule size. ``totals`` (molecules, force components): the
    denominators of those means when this batch is one process's share of a larger one (torchrun:
    the shares' losses then add up to the whole batch's).
    """
    energy, forces = predict(model, batch)
    de = energy - batch.energy.reshape(-1)
    df = forces - batch.forces
    if per_atom:
        de_atom = de / batch.n_atoms.reshape(-1).to(de.dtype)
        if totals is None:
            data_loss = energy_weight * (de_atom * de_atom).mean() + force_weight * (df * df).mean()
        else:
            data_loss = energy_weight * (de_atom * de_atom).sum() / totals[0] + force_weight * (df * df).sum() / totals[1]
    else:
        data_loss = alpha * (de * de).sum() + (df * df).sum()
    stats = {"e_abs": float(de.detach().abs().sum()), "f_abs": float(df.detach().abs().sum()),
             "e_sq": float((de.detach() ** 2).sum()), "f_sq": float((df.detach() ** 2).sum()),
             "n_mol": int(de.shape[0]), "n_comp": int(df.numel())}
    return data_loss, stats


def summarise(acc: Dict[str, float]) -> Dict[str, float]:
    """MAE/RMSE in meV and meV/Å from accumulated sums."""
    n_mol, n_comp = max(acc.get("n_mol", 0), 1), max(acc.get("n_comp", 0), 1)
    return {"energy_mae_mev": 1000 * acc.get("e_abs", 0) / n_mol,
            "energy_rmse_mev": 1000 * (acc.get("e_sq", 0) / n_mol) ** 0.5,
            "force_mae_mev_a": 1000 * acc.get("f_abs", 0) / n_comp,
            "force_rmse_mev_a": 1000 * (acc.get("f_sq", 0) / n_comp) ** 0.5}


def accumulate(acc: Dict[str, float], stats: Dict[str, float]) -> None:
    for k, v in stats.items():
        acc[k] = acc.get(k, 0) + v
