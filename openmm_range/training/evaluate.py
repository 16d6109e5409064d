"""Error metrics of a model on a dataset: per split, per element, per molecule size."""
from typing import Dict, Optional, Sequence

import numpy as np
from torch_geometric.data import Batch

from ..elements import symbol
from .loss import predict

SIZE_BINS = (0, 10, 20, 30, 50, 75, 100, 150, 10**9)
#: the arrays returned by :func:`errors` (per structure: energy, n_atoms; per atom: forces, z)
ERROR_KEYS = ("energy", "n_atoms", "forces", "z")


def errors(model, dataset, batch_size: int = 16, device="cpu") -> Dict[str, np.ndarray]:
    """Per-structure energy errors (eV), per-atom force errors (eV/Å) with elements and sizes."""
    model = model.to(device).eval()
    dtype = model.master_init.dtype
    e_err, n_atoms, f_err, z_all = [], [], [], []
    for start in range(0, len(dataset), batch_size):
        batch = Batch.from_data_list([dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]).to(device)
        batch.pos = batch.pos.to(dtype)
        energy, forces = predict(model, batch)
        e_err.append((energy.detach() - batch.energy.reshape(-1).to(dtype)).cpu().numpy())
        f_err.append((forces.detach() - batch.forces.to(dtype)).cpu().numpy())
        n_atoms.append(batch.n_atoms.reshape(-1).cpu().numpy())
        z_all.append(batch.z.cpu().numpy())
    return {"energy": np.concatenate(e_err), "n_atoms": np.concatenate(n_atoms),
            "forces": np.concatenate(f_err), "z": np.concatenate(z_all)}


def metrics(err: Dict[str, np.ndarray]) -> Dict:
    """MAE/RMSE in meV and meV/Å overall, per element (forces) and per size bin."""
    def block(e, f):
        out = {"structures": int(len(e))}
        if len(e):
            out.update({"energy_mae_mev": 1e3 * float(np.abs(e).mean()), "energy_rmse_mev": 1e3 * float(np.sqrt((e**2).mean()))})
        if len(f):
            out.update({"force_mae_mev_a": 1e3 * float(np.abs(f).mean()), "force_rmse_mev_a": 1e3 * float(np.sqrt((f**2).mean()))})
        return out

    result = {"all": block(err["energy"], err["forces"]), "per_element": {}, "per_size": {}}
    for z in np.unique(err["z"]):
        f = err["forces"][err["z"] == z]
        result["per_element"][symbol(int(z))] = {"atoms": int(len(f)), "force_mae_mev_a": 1e3 * float(np.abs(f).mean()),
                                                 "force_rmse_mev_a": 1e3 * float(np.sqrt((f**2).mean()))}
    atom_size = np.repeat(err["n_atoms"], err["n_atoms"])
    for lo, hi in zip(SIZE_BINS[:-1], SIZE_BINS[1:]):
        sel = (err["n_atoms"] > lo) & (err["n_atoms"] <= hi)
        if sel.any():
            label = f"{lo + 1}-{hi}" if hi < 10**9 else f">{lo}"
            result["per_size"][label] = block(err["energy"][sel], err["forces"][(atom_size > lo) & (atom_size <= hi)])
    return result


def run_splits(run_dir) -> Dict[str, "AtomsDataset"]:
    """``{"train", "val", "test"}`` of a training run's data (float64), rebuilt from its config.json
    as the trainer builds them (subsample, dataset order, kept split)."""
    import json
    from pathlib import Path

    from .config import TrainConfig
    from .trainer import load_data

    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"run {str(run_dir)!r} has no config.json (not a training run directory)")
    config = TrainConfig.from_dict({**json.loads(path.read_text()), "dtype": "float64"})
    _, (train, val, test), _ = load_data(config)
    return {"train": train, "val": val, "test": test}


def read_split_file(path, n_structures: int) -> Dict[str, list]:
    """A run's split.json (``{"train": [...], "val": [...], "test": [...]}``), checked against the
    datasets it is to index (``n_structures`` in all, concatenated as in training). ValueError
    naming the file when it is no such mapping of whole numbers >= 0, names a structure beyond the
    data, or comes from a run that subsampled its data (its indices then name structures of the
    subsample: use the run directory instead)."""
    import json
    from pathlib import Path

    path = Path(path)
    try:
        splits = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"--splits {str(path)!r} is not valid JSON ({exc})") from None
    if not isinstance(splits, dict) or not all(isinstance(v, list) for v in splits.values()) or any(
            type(i) is not int or i < 0 for v in splits.values() for i in v):
        raise ValueError(f"--splits {str(path)!r} must map split names to lists of structure indices "
                         f"(whole numbers >= 0; a training run's split.json)")
    config = path.parent / "config.json"
    try:
        subsampled = config.is_file() and json.loads(config.read_text()).get("max_structures")
    except (json.JSONDecodeError, AttributeError):
        raise ValueError(f"{config} (beside --splits) is not a training run's config.json") from None
    if subsampled:
        raise ValueError(f"--splits {path}: that run trained on a random subsample of its data, so its "
                         f"indices do not name structures of the whole datasets; use --run {path.parent}")
    largest = max((max(v) for v in splits.values() if v), default=-1)
    if largest >= n_structures:
        raise ValueError(f"--splits {path} names structure {largest}, but the datasets given hold {n_structures}")
    return splits


def evaluate_model(model, dataset, splits: Optional[Dict[str, Sequence[int]]] = None, batch_size: int = 16,
                   device="cpu") -> Dict[str, Dict]:
    """Metrics for each named split (indices into ``dataset``), or for the whole dataset."""
    parts = {"all": dataset} if not splits else {k: dataset.subset(v) for k, v in splits.items() if len(v)}
    return {name: metrics(errors(model, part, batch_size, device)) for name, part in parts.items()}


def format_table(results: Dict[str, Dict]) -> str:
    lines = ["| split | structures | energy MAE (meV) | energy RMSE (meV) | force MAE (meV/Å) | force RMSE (meV/Å) |",
             "|---|---|---|---|---|---|"]
    for name, r in results.items():
        a = r["all"]
        lines.append(f"| {name} | {a['structures']} | {a.get('energy_mae_mev', float('nan')):.2f} | "
                     f"{a.get('energy_rmse_mev', float('nan')):.2f} | {a.get('force_mae_mev_a', float('nan')):.2f} | "
                     f"{a.get('force_rmse_mev_a', float('nan')):.2f} |")
    return "\n".join(lines)
