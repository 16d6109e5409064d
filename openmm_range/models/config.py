"""Model hyperparameters as one small dataclass, with the paper's defaults."""
import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

from ..elements import DEFAULT_ELEMENTS, to_atomic_numbers
from ..nn.mlp import ATTENTION_ACTIVATIONS
from ..nn.long_range import LONG_RANGE_HEADS
from ..nn.range_block import RANGE_FORMS
from ..validation import dataclass_from_dict

#: Number of Gaussian distance functions per cutoff (Å), from the paper's Supplementary Tables 1-2.
SCHNET_RBF_BY_CUTOFF = {4.0: 27, 5.0: 33, 7.0: 47, 9.0: 60, 12.0: 80}
PAINN_RBF_BY_CUTOFF = {5.0: 20, 7.0: 28, 9.0: 36, 12.0: 48}


def check_molecule_charges(charges, accepted, what: str) -> None:
    """ValueError unless every molecular charge in ``charges`` (e) is in ``accepted`` (those
    seen in training); ``what`` names the model in the message."""
    bad = [int(q) for q in charges if int(q) not in accepted]
    if bad:
        seen = "only neutral molecules" if tuple(accepted) == (0,) else f"molecular charges {list(accepted)}"
        raise ValueError(f"total charge {bad[0]:+d} e was requested, but {what} was trained on {seen}; "
                         f"accepted charges: {', '.join(f'{q:+d}' for q in accepted)}")


#: values of ``ModelConfig.range_scope``
RANGE_SCOPES = ("molecule", "structure")


def default_num_rbf(base: str, cutoff: float) -> int:
    """Paper's RBF count for ``cutoff``; other cutoffs keep the paper's density per Å."""
    table, per_angstrom = (SCHNET_RBF_BY_CUTOFF, 20.0 / 3.0) if base == "schnet" else (PAINN_RBF_BY_CUTOFF, 4.0)
    return table.get(float(cutoff), max(4, int(math.ceil(per_angstrom * cutoff))))


@dataclass
class ModelConfig:
    """Hyperparameters of one model. Lengths in Å.

    Defaults follow the paper (Supplementary Tables 1-2) except the width: the paper uses
    ``hidden_channels = num_filters = 512``; we default to 128 so that models train on
    CPUs and small GPUs in hours. ``num_heads = 16`` then gives 8 features per head.
    """

    name: str
    cutoff: float = 5.0
    hidden_channels: int = 128
    num_filters: Optional[int] = None  # SchNet filter width; default: hidden_channels
    num_interactions: int = 3
    num_rbf: Optional[int] = None  # default: paper's count for this cutoff
    activation: str = "tanh"
    readout_layers: Tuple[int, ...] = (128, 64)
    elements: Tuple[int, ...] = DEFAULT_ELEMENTS
    # RANGE only
    num_heads: int = 16
    num_master_nodes: int = 3
    num_master_rbf: int = 7
    # width (Å) of the smooth maximum normalising the master-node distances; 0 = the paper's hard max
    master_smooth_width: float = 0.5
    # attention score activation: 'leaky_relu' (GATv2, the paper; its kink leaves a small force
    # discontinuity) or 'smooth_leaky_relu' (same slopes, smooth; energy-conserving dynamics)
    attention_activation: str = "leaky_relu"
    # 'v2': symmetry-broken master nodes and residual paths (docs/architecture.md); 'paper': the
    # paper's equations exactly. Model files saved before this option existed hold the paper form.
    range_form: str = "v2"
    # over which atoms the master nodes attend: 'molecule' (each molecule of a structure has its
    # own master nodes, so far-apart molecules are exactly additive) or 'structure' (the whole
    # structure, as in the paper; model files saved before this option existed use it)
    range_scope: str = "molecule"
    # explicit interaction *between* molecules (nn/long_range.py): 'coulomb-dispersion' (learned
    # charges + C6) or 'none'. Default (None): 'coulomb-dispersion' for RANGE models, else 'none'.
    long_range: Optional[str] = None
    coulomb_softening: float = 1.0  # Å, a in k q_i q_j / sqrt(r^2 + a^2)
    dispersion_radius: float = 3.0  # Å, R0 in C6 / (r^6 + R0^6)
    # total molecular charges (e) seen in training; None: not trained yet (neutral only)
    charges: Optional[Tuple[int, ...]] = None
    n_min: Optional[int] = None  # smallest/largest training molecule (atoms); None: not trained yet
    n_max: Optional[int] = None
    extra: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        self.elements = tuple(sorted(set(to_atomic_numbers(self.elements))))
        self.readout_layers = tuple(int(x) for x in self.readout_layers)
        if not self.elements:
            raise ValueError("elements must list at least one element")
        if not (isinstance(self.cutoff, (int, float)) and self.cutoff > 0 and math.isfinite(self.cutoff)):
            raise ValueError(f"cutoff must be a positive number of Å, got {self.cutoff!r}")
        self.cutoff = float(self.cutoff)
        for key in ("hidden_channels", "num_interactions", "num_heads", "num_master_nodes", "num_master_rbf"):
            value = getattr(self, key)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{key} must be a positive integer, got {value!r}")
        if not (isinstance(self.master_smooth_width, (int, float)) and self.master_smooth_width >= 0):
            raise ValueError(f"master_smooth_width must be >= 0 (Å), got {self.master_smooth_width!r}")
        self.master_smooth_width = float(self.master_smooth_width)
        if self.attention_activation not in ATTENTION_ACTIVATIONS:
            raise ValueError(f"attention_activation must be one of {list(ATTENTION_ACTIVATIONS)}, "
                             f"got {self.attention_activation!r}")
        if self.range_form not in RANGE_FORMS:
            raise ValueError(f"range_form must be one of {list(RANGE_FORMS)}, got {self.range_form!r}")
        if self.range_scope not in RANGE_SCOPES:
            raise ValueError(f"range_scope must be one of {list(RANGE_SCOPES)}, got {self.range_scope!r}")
        if self.long_range is None:
            self.long_range = "coulomb-dispersion" if self.uses_range else "none"
        if self.long_range not in LONG_RANGE_HEADS:
            raise ValueError(f"long_range must be one of {list(LONG_RANGE_HEADS)}, got {self.long_range!r}")
        for key in ("coulomb_softening", "dispersion_radius"):
            value = getattr(self, key)
            if not (isinstance(value, (int, float)) and value > 0 and math.isfinite(value)):
                raise ValueError(f"{key} must be a positive number of Å, got {value!r}")
            setattr(self, key, float(value))
        if self.charges is not None:
            if isinstance(self.charges, (str, bytes)) or not all(isinstance(q, int) and not isinstance(q, bool)
                                                                 for q in self.charges):
                raise ValueError(f"charges must be a list of integer molecular charges (e), got {self.charges!r}")
            self.charges = tuple(sorted(set(int(q) for q in self.charges)))
        if self.num_filters is None:
            self.num_filters = self.hidden_channels
        if (self.n_min is None) != (self.n_max is None):
            raise ValueError("n_min and n_max must be given together")
        if self.n_min is not None and not 1 <= self.n_min <= self.n_max:
            raise ValueError(f"need 1 <= n_min <= n_max, got n_min={self.n_min}, n_max={self.n_max}")

    @property
    def base(self) -> str:
        return self.name.replace("range-", "")

    @property
    def uses_range(self) -> bool:
        return self.name.startswith("range-")

    def resolved_num_rbf(self) -> int:
        return self.num_rbf if self.num_rbf is not None else default_num_rbf(self.base, self.cutoff)

    @property
    def accepted_charges(self) -> Tuple[int, ...]:
        """Molecular charges (e) this model may be asked for: those seen in training (0 if untrained)."""
        return self.charges if self.charges is not None else (0,)

    def to_dict(self) -> Dict[str, Any]:
        d = dataclasses.asdict(self)
        d["elements"] = list(self.elements)
        if self.charges is not None:
            d["charges"] = list(self.charges)
        d["readout_layers"] = list(self.readout_layers)
        return d

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "ModelConfig":
        return dataclass_from_dict(cls, d, "hyperparameter", hidden=("extra",))
