"""Input checks shared by the public API (clear ValueErrors naming the problem)."""
import torch


def check_positions(pos, name: str = "positions") -> None:
    """Positions must be a non-empty (N, 3) floating tensor of finite numbers."""
    if not isinstance(pos, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape (N, 3), got {type(pos).__name__}")
    if pos.dim() != 2 or pos.shape[1] != 3:
        raise ValueError(f"{name} must have shape (N, 3), got {tuple(pos.shape)}")
    if pos.shape[0] == 0:
        raise ValueError(f"{name} is empty: a molecule needs at least one atom")
    if not pos.is_floating_point():
        raise ValueError(f"{name} must be float32 or float64, got {pos.dtype}")
    if not bool(torch.isfinite(pos).all()):
        bad = int(torch.nonzero(~torch.isfinite(pos).all(dim=1))[0])
        raise ValueError(f"{name} contains NaN or inf (first at atom {bad})")


def dataclass_from_dict(cls, d, what: str, hidden=()):
    """Build dataclass ``cls`` from dict ``d``; unknown keys give a ValueError listing the accepted ones."""
    import dataclasses

    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ValueError(f"unknown {what}(s) {unknown}; accepted: {sorted(known - set(hidden))}")
    return cls(**d)
