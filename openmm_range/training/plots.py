"""Learning curves and parity plots (PNG)."""
from pathlib import Path
from typing import Dict, List

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torch_geometric.data import Batch  # noqa: E402

from .loss import predict  # noqa: E402


def learning_curves(history: List[Dict], path: Path) -> None:
    epochs = [r["epoch"] for r in history]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, key, unit in zip(axes, ("energy_mae_mev", "force_mae_mev_a"), ("meV", "meV/Å")):
        ax.semilogy(epochs, [r[f"train_{key}"] for r in history], label="train")
        ax.semilogy(epochs, [r[f"val_{key}"] for r in history], label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"{key.split('_')[0]} MAE ({unit})")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parity_plot(model, dataset, batch_size: int, device, path: Path) -> None:
    model.eval()
    e_ref, e_pred, f_ref, f_pred = [], [], [], []
    for start in range(0, len(dataset), batch_size):
        batch = Batch.from_data_list([dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]).to(device)
        energy, forces = predict(model, batch)
        n = batch.n_atoms.reshape(-1).to(energy.dtype)
        e_ref.append((batch.energy.reshape(-1) / n).cpu())
        e_pred.append((energy.detach() / n).cpu())
        f_ref.append(batch.forces.reshape(-1).cpu())
        f_pred.append(forces.detach().reshape(-1).cpu())
    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    for ax, ref, pred, label in ((axes[0], e_ref, e_pred, "energy per atom (eV)"), (axes[1], f_ref, f_pred, "force component (eV/Å)")):
        ref, pred = torch.cat(ref).numpy(), torch.cat(pred).numpy()
        ax.scatter(ref, pred, s=2, alpha=0.4)
        lo, hi = min(ref.min(), pred.min()), max(ref.max(), pred.max())
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set_xlabel(f"reference {label}")
        ax.set_ylabel(f"predicted {label}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
