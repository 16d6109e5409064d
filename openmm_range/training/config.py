"""Training configuration: one dataclass, read from YAML, every field also a CLI flag."""
import dataclasses
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple, Union

import yaml

from ..validation import dataclass_from_dict, whole_number


#: options that are real numbers (grad_clip may also be None)
_FLOAT_OPTIONS = ("lr", "weight_decay", "alpha_initial", "alpha_final", "reg_delta", "lr_gamma", "grad_clip",
                  "warmup_epochs", "lr_min_factor", "ema_decay", "energy_weight", "force_weight",
                  "divergence_factor")

#: options that are whole numbers, >= 1 for these and >= 0 for the others (model_seed may also be None)
_POSITIVE_INT_OPTIONS = ("epochs", "batch_size", "lr_step_network", "lr_step_lambda", "lr_step_ab")
_INT_OPTIONS = _POSITIVE_INT_OPTIONS + ("seed", "model_seed", "alpha_switch_epoch", "early_stopping_patience",
                                        "max_lr_halvings", "threads")


@dataclass
class TrainConfig:
    """The paper's recipe (Supplementary Note 3) as defaults.

    Loss per batch: ``alpha * sum_mol (E - E_pred)^2 + sum_atoms |F - F_pred|^2 + delta * L_reg``
    (eV, eV/Å; unnormalised sums as in the paper). alpha = ``alpha_initial`` until
    ``alpha_switch_epoch``, then ``alpha_final``. AdamW; three parameter groups (network,
    lambda_I, a_I/b_I), each with its own step schedule ``lr * lr_gamma ** (epoch // step)``.
    """

    data: List[str] = field(default_factory=list)
    model: str = "range-schnet"
    hyperparameters: Dict[str, Any] = field(default_factory=dict)
    out_dir: str = "runs/train"
    split: Tuple[float, float, float] = (0.8, 0.1, 0.1)
    split_by: str = "structure"
    # molecule names (e.g. dimer pair types 'water+nma') put only in the test split, never trained on
    held_out_molecules: List[str] = field(default_factory=list)
    seed: int = 0  # subsample, split; also model initialisation and data order unless model_seed is set
    model_seed: Optional[int] = None  # model initialisation and data order (a second seed on the same split)
    # random subsample before splitting: one total, or one count per dataset in ``data`` (0 = all of it)
    max_structures: Optional[Union[int, List[int]]] = None
    epochs: int = 200
    batch_size: int = 16
    lr: float = 1e-4
    weight_decay: float = 0.01
    alpha_initial: float = 0.01
    alpha_final: float = 0.1
    alpha_switch_epoch: int = 125
    reg_delta: float = 2.0  # paper units; divided by 3 * mean atoms * batch_size for loss 'per-atom'
    lr_gamma: float = 0.8
    lr_step_network: int = 19
    lr_step_lambda: int = 6
    lr_step_ab: int = 8
    grad_clip: Optional[float] = 10.0
    # --- the converging recipe's options (defaults keep the paper's recipe above) ---
    # 'step': the paper's step decay per group; 'cosine': linear warm-up over warmup_epochs, then
    # cosine decay to lr * lr_min_factor at the last epoch, evaluated at every optimiser step
    schedule: str = "step"
    warmup_epochs: float = 0.0
    lr_min_factor: float = 0.01
    # exponential moving average of the weights (0 = off); validation, the best model and the
    # test metrics then use the averaged weights
    ema_decay: float = 0.0
    # 'paper': alpha * sum_mol dE^2 + sum_atoms |dF|^2 (unnormalised sums, alpha schedule above);
    # 'per-atom': energy_weight * mean_mol (dE / N_atoms)^2 + force_weight * mean_components dF^2 (eV, eV/Å)
    loss: str = "paper"
    energy_weight: float = 1.0
    force_weight: float = 1.0
    early_stopping_patience: int = 0  # epochs without validation improvement; 0 = off
    # divergence guard: an epoch whose median batch loss exceeds divergence_factor x the lowest
    # earlier epoch's (or is not finite, or leaves non-finite weights) is undone and redone at half
    # the learning rate, at most max_lr_halvings times in a run; 0 = off
    divergence_factor: float = 3.0
    max_lr_halvings: int = 4
    dtype: str = "float32"
    device: str = "cpu"
    threads: int = 0
    # fine-tuning: a model file (save_model / publish) whose weights, per-element shifts included,
    # start the run instead of a random initialisation; its architecture must be the config's
    init_from: Optional[str] = None
    # an earlier run directory whose data are the first entries of ``data`` (same max_structures
    # and seed): its structures keep their train/val/test part, the structures of the datasets
    # added after them are split by ``split``. A fine-tuned model is then tested only on
    # structures its starting model never trained on.
    keep_split: Optional[str] = None

    @property
    def init_seed(self) -> int:
        """Seed of the model initialisation and of the data order."""
        return self.seed if self.model_seed is None else int(self.model_seed)

    def __post_init__(self):
        if isinstance(self.data, str):  # one dataset given as a plain path
            self.data = [self.data]
        for key in ("data", "held_out_molecules"):
            value = getattr(self, key)
            if not isinstance(value, (list, tuple)) or not all(isinstance(x, (str, os.PathLike)) for x in value):
                raise ValueError(f"{key} must be a list of {'dataset paths' if key == 'data' else 'molecule names'}, "
                                 f"got {value!r}")
            setattr(self, key, [os.fspath(x) for x in value])
        try:
            if isinstance(self.split, (str, bytes)) or len(self.split) != 3:
                raise TypeError
            self.split = tuple(float(x) for x in self.split)
        except (TypeError, ValueError):
            raise ValueError(f"split must be a list of three fractions [train, val, test], got {self.split!r}") from None
        # numbers given as text (YAML reads 1e-4, without a dot, as a string) are read as numbers
        for key in _FLOAT_OPTIONS:
            value = getattr(self, key)
            if value is None and key == "grad_clip":
                continue
            try:
                setattr(self, key, float(value))
            except (TypeError, ValueError):
                raise ValueError(f"{key} must be a number, got {value!r}") from None
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        for key in _INT_OPTIONS:
            value = getattr(self, key)
            if value is None and key == "model_seed":
                continue
            least = 1 if key in _POSITIVE_INT_OPTIONS else 0
            whole = whole_number(value)
            if whole is None or whole < least:
                raise ValueError(f"{key} must be {'a positive' if least else 'a non-negative'} integer, got {value!r}")
            setattr(self, key, whole)
        if not isinstance(self.device, str) or not re.fullmatch(r"cpu|cuda(:\d+)?", self.device):
            raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {self.device!r}")
        if not isinstance(self.hyperparameters, dict):
            raise ValueError(f"hyperparameters must be a mapping of model options (e.g. {{\"hidden_channels\": 64}}), "
                             f"got {self.hyperparameters!r}")
        from ..data.dataset import SPLIT_MODES

        choices = {"schedule": ("step", "cosine"), "loss": ("paper", "per-atom"), "split_by": tuple(SPLIT_MODES)}
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise ValueError(f"{key} must be one of {list(allowed)}, got {getattr(self, key)!r}")
        if not (self.divergence_factor == 0.0 or self.divergence_factor > 1.0):
            raise ValueError(f"divergence_factor must be 0 (off) or > 1, got {self.divergence_factor!r}")
        if not 0.0 <= float(self.ema_decay) < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay!r}")
        if not (0.0 <= float(self.warmup_epochs) < self.epochs and 0.0 <= float(self.lr_min_factor) <= 1.0):
            raise ValueError(f"need 0 <= warmup_epochs < epochs and 0 <= lr_min_factor <= 1, got "
                             f"{self.warmup_epochs!r}, {self.lr_min_factor!r}")
        if isinstance(self.max_structures, (list, tuple)):
            counts = [whole_number(m) for m in self.max_structures]
            if len(counts) != len(self.data) or any(m is None or m < 0 for m in counts):
                raise ValueError(f"max_structures as a list needs one whole count per dataset in data "
                                 f"({len(self.data)}; 0 for all of one), got {self.max_structures!r}")
            self.max_structures = counts
        elif self.max_structures is not None:
            count = whole_number(self.max_structures)
            if count is None or count < 0:
                raise ValueError(f"max_structures must be a whole count (all datasets together), one per dataset "
                                 f"as a list, or 0 / null for all; got {self.max_structures!r}")
            self.max_structures = count

    def to_dict(self) -> Dict[str, Any]:
        d = dataclasses.asdict(self)
        d["split"] = list(self.split)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "TrainConfig":
        return dataclass_from_dict(cls, d, "training option")

    @classmethod
    def from_yaml(cls, path: str) -> "TrainConfig":
        with open(path) as fh:
            try:
                d = yaml.safe_load(fh) or {}
            except yaml.YAMLError as exc:
                raise ValueError(f"{path} is not valid YAML: {exc}") from None
        if not isinstance(d, dict):
            raise ValueError(f"{path}: a training config must be a YAML mapping of options")
        return cls.from_dict(d)
