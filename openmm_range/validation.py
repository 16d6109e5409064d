"""Input checks shared by the public API (clear ValueErrors naming the problem)."""
import dataclasses
import math
import typing

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


def whole_number(value, text: bool = True) -> typing.Optional[int]:
    """``value`` as an int if it is a whole number, else None. Booleans, NaN and inf are not
    numbers here; text such as ``"2e4"`` (YAML reads 2e4 without a dot as a string) counts
    only if ``text``."""
    if isinstance(value, bool) or (isinstance(value, str) and not text):
        return None
    if isinstance(value, int):
        return value
    try:
        number = float(value)
        return int(number) if math.isfinite(number) and number == int(number) else None
    except (TypeError, ValueError, OverflowError):
        return None


_KINDS = {int: "a whole number", float: "a number", str: "text", typing.List[float]: "a number or a list of numbers"}


def coerce_fields(obj, where: str, skip=()) -> None:
    """Bring dataclass ``obj``'s ``int``, ``float``, ``str`` and ``List[float]`` fields to their types
    in place, as YAML gives them: it reads ``1e-2`` (no dot) as text, and a user may write ``'10'``
    or one number for a list. ValueError ``"{where}.{field} must be ..."`` for a value that is not
    one (booleans, NaN and inf are not numbers here). Fields in ``skip`` and of other types are left."""
    def number(value):
        if isinstance(value, bool) or not math.isfinite(float(value)):
            raise ValueError
        return float(value)

    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if f.name in skip or f.type not in _KINDS:
            continue
        try:
            if f.type is int:
                new = whole_number(value)
                if new is None:
                    raise ValueError
            elif f.type is float:
                new = number(value)
            elif f.type is str:
                if not isinstance(value, str):
                    raise ValueError
                new = value
            else:
                new = [number(v) for v in (value if isinstance(value, (list, tuple)) else [value])]
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"{where}.{f.name} must be {_KINDS[f.type]}, got {value!r}") from None
        setattr(obj, f.name, new)
