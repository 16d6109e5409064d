"""A run's training history: ``metrics.csv`` (one row per epoch) and the convergence measure.

The campaign status, the model cards and the benchmarks read a run's history through here.
"""
import csv
from pathlib import Path
from typing import Dict, List, Sequence, Tuple


def read_metrics(run_dir) -> List[Dict[str, str]]:
    """The rows of ``run_dir/metrics.csv`` as dicts of strings; [] if the run has none yet."""
    path = Path(run_dir) / "metrics.csv"
    if not path.exists():
        return []
    with open(path) as handle:
        return list(csv.DictReader(handle))


def convergence_gain(val: Sequence[float], epochs: int) -> float:
    """Relative improvement (%) of the best validation error over the last 20 % of ``epochs``.

    ``val`` holds one validation error per epoch run; NaN while fewer than 80 % of the epochs have
    run. The convergence issue's criterion is a gain < 2 %.
    """
    cut = int(round(0.8 * epochs))
    if len(val) <= cut or cut < 1:
        return float("nan")
    before, end = min(val[:cut]), min(val)
    return 100.0 * (before - end) / before


def lr_halvings(rows: Sequence[Dict[str, str]]) -> List[Tuple[int, float]]:
    """(epoch, lr_scale) of every epoch the divergence guard ran at a reduced learning rate (scale
    < 1), in order; [] for a run that never tripped it, or whose history predates the guard."""
    return [(int(r["epoch"]), float(r["lr_scale"])) for r in rows if r.get("lr_scale") and float(r["lr_scale"]) < 1]
