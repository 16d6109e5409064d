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


def attention_svd_plot(svd: Dict, positions, path: Path, top: int = 10) -> None:
    """Figure of :func:`openmm_range.training.inspect.attention_svd`.

    One row per kind (aggregation, broadcast): the normalised singular values per head (first
    ``top``), the dominant component per head over the atoms (heat map, atoms labelled by
    element), and one structure (``positions``, (N, 3) Å) projected on its two main axes with each
    atom coloured by the dominant component averaged over the heads.
    """
    import numpy as np

    from ..elements import symbol

    pos = np.asarray(positions, dtype=float)
    centred = pos - pos.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ axes[:2].T
    labels = [symbol(z) for z in svd["z"]]
    fig, grid = plt.subplots(2, 3, figsize=(16, 8.5), gridspec_kw={"width_ratios": [1, 2.2, 1.4]})
    for row, kind in enumerate(("aggregation", "broadcast")):
        s = np.asarray(svd[kind]["singular_values"])[:, :top]
        comp = np.asarray(svd[kind]["component"])
        ax = grid[row, 0]
        for head, values in enumerate(s):
            ax.plot(np.arange(1, len(values) + 1), values, marker="o", ms=3, label=f"head {head + 1}")
        ax.set_yscale("log")
        ax.set_xlabel("singular value index")
        ax.set_ylabel("normalised singular value")
        ax.set_title(f"{kind} weights, master {svd['master']}, block {svd['block']}")
        if row == 0:
            ax.legend(fontsize=6, ncol=2)
        ax = grid[row, 1]
        image = ax.imshow(comp, aspect="auto", cmap="viridis")
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels(labels, fontsize=5)
        ax.set_yticks(range(len(comp)))
        ax.set_yticklabels([str(h + 1) for h in range(len(comp))], fontsize=6)
        ax.set_xlabel("atom")
        ax.set_ylabel("head")
        ax.set_title("dominant component (first right singular vector)")
        fig.colorbar(image, ax=ax, fraction=0.03)
        ax = grid[row, 2]
        for i in range(len(pos)):  # bonds: pairs closer than 1.7 Å, not H-H
            for j in range(i + 1, len(pos)):
                if np.linalg.norm(pos[i] - pos[j]) < 1.7 and not labels[i] == labels[j] == "H":
                    ax.plot(xy[[i, j], 0], xy[[i, j], 1], color="0.6", lw=0.8, zorder=0)
        colour = comp.mean(axis=0)
        dots = ax.scatter(xy[:, 0], xy[:, 1], c=colour, s=[60 if l != "H" else 20 for l in labels],
                          cmap="viridis", edgecolors="k", linewidths=0.3)
        for k, l in enumerate(labels):
            if l not in ("H", "C"):
                ax.annotate(l, xy[k], fontsize=7, ha="center", va="center", color="red")
        ax.set_aspect("equal")
        ax.set_xlabel("main axis 1 (Å)")
        ax.set_ylabel("main axis 2 (Å)")
        ax.set_title("component mean over heads")
        fig.colorbar(dots, ax=ax, fraction=0.04)
    fig.tight_layout()
    fig.savefig(path, dpi=130, format="png")
    plt.close(fig)
