"""Dataset specification files (YAML) for ``openmm-range data generate``.

A spec says which molecules to sample, how, and how to label them. Example::

    name: dha-xtb
    seed: 2026
    label: {method: GFN2-xTB, accuracy: 0.01, electronic_temperature: 300, max_iter: 250}
    conformers: {n: 40, candidates: 200, select: rg_stratified}
    sampling:
      - {kind: md, sampler: gfnff, temperatures: [300, 500, 800], frames: 84, stride: 40,
         equilibration: 400, timestep: 0.5, friction: 0.01}
      - {kind: displace, sigma: 0.05, frames: 10}
      - {kind: stretch, sigma: 0.05, max_length: 3.0, frames: 5}
      - {kind: contact, sigma: 0.05, min_distance: 0.9, frames: 5}
    molecules:
      - {name: dha, smiles: "CC/C=C\\C/C=C\\C/C=C\\C/C=C\\C/C=C\\C/C=C\\CCC(=O)O"}

One **task** is one (molecule, conformer) pair: every sampling entry runs from that
conformer and all its frames are labelled and stored as one chunk. Dimer specs replace
``molecules`` by ``dimers`` (see :class:`DimerSpec`); there a task is one (pair, replica).

Units: temperatures K, timestep fs, friction 1/fs, sigma and gaps Å.
"""
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import yaml

from ...validation import coerce_fields, whole_number

LABEL_METHODS = ("GFN2-xTB", "GFN1-xTB", "IPEA1-xTB")
SAMPLERS = ("gfnff", "gfn2")
SAMPLING_KINDS = ("md", "displace", "stretch", "contact")
CONFORMER_SELECTIONS = ("rg_stratified", "first")
#: sampling keys that only an md step uses, and those that only the other kinds use
MD_ONLY_KEYS = ("sampler", "temperatures", "stride", "equilibration", "timestep", "friction")


def _check_keys(where: str, data: Dict, allowed: List[str]) -> None:
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(data).__name__}")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; accepted: {sorted(allowed)}")


@dataclass
class LabelSpec:
    """How structures are labelled with tblite (accuracy: tblite's, smaller = tighter)."""

    method: str = "GFN2-xTB"
    accuracy: float = 0.01
    electronic_temperature: float = 300.0
    max_iter: int = 250


@dataclass
class SamplingStep:
    """One sampling entry: ``md`` (Langevin MD with ``sampler`` at each temperature), ``displace``
    (Gaussian displacements of ``sigma``), ``stretch`` (displacements of ``sigma`` plus one X-H bond
    stretched to at most ``max_length`` Å: :func:`~openmm_range.data.generate.md.stretched_xh_bonds`) or
    ``contact`` (displacements plus one hydrogen pushed into a compressed bond or to ``min_distance``
    Å and more from an atom it is not bonded to: :func:`~openmm_range.data.generate.md.close_contacts`)."""

    kind: str
    sampler: str = "gfnff"
    temperatures: List[float] = field(default_factory=lambda: [300.0])
    frames: int = 10
    stride: int = 40
    equilibration: int = 200
    timestep: float = 0.5
    friction: float = 0.01
    sigma: float = 0.05
    max_length: float = 3.0
    min_distance: float = 0.9


@dataclass
class MoleculeSpec:
    """One molecule: name, SMILES, optional charge (must match the SMILES), unpaired electrons."""

    name: str
    smiles: str
    charge: Optional[int] = None
    uhf: int = 0


@dataclass
class DimerSpec:
    """Pairs of monomers placed at closest-atom gaps drawn uniformly from [gap_min, gap_max] Å.

    ``pairs``: list of [name_a, name_b] (names from ``monomers``). Each task (pair, replica)
    yields ``frames`` structures; each is thermalised by ``md_steps`` GFN-FF steps at
    ``temperature`` K after placement (fragments are kept unbonded). A structure whose
    GFN2-xTB Mulliken charge on monomer A differs from A's formal charge by more than
    ``max_charge_transfer`` (e) is dropped: GFN2-xTB's delocalisation error can move a
    fraction of an electron between distant ions, which is not physical.

    With ``far_fraction`` > 0, that fraction of the frames (drawn per frame) takes its gap from
    [gap_max, far_gap_max] instead, so that the data reach the separated limit.
    ``monomer_replicas`` x ``monomer_frames`` structures of every monomer alone (thermalised
    the same way) follow the pairs: E(A) and E(B) of the separation limit, as labels.
    """

    monomers: List[MoleculeSpec]
    pairs: List[List[str]]
    replicas: int = 4
    frames: int = 25
    gap_min: float = 1.8
    gap_max: float = 20.0
    md_steps: int = 100
    temperature: float = 300.0
    timestep: float = 0.5
    friction: float = 0.01
    max_charge_transfer: float = 0.02
    far_fraction: float = 0.0
    far_gap_max: float = 0.0
    monomer_replicas: int = 0
    monomer_frames: int = 0


@dataclass
class ConformerSpec:
    """ETKDG conformers: keep ``n`` of ``candidates`` (``rg_stratified`` or ``first``)."""

    n: int = 4
    candidates: int = 0
    select: str = "rg_stratified"


@dataclass
class SpotCheckSpec:
    """Finite-difference check (structures x components, step Å) and fresh-guess relabels."""

    structures: int = 3
    components: int = 6
    step: float = 0.002
    relabel: int = 20


@dataclass
class Spec:
    """A parsed, validated dataset specification (see module docstring)."""

    name: str
    seed: int
    label: LabelSpec
    conformers: ConformerSpec
    sampling: List[SamplingStep]
    molecules: List[MoleculeSpec]
    dimers: Optional[DimerSpec]
    spot_check: SpotCheckSpec
    description: str = ""
    raw: Dict[str, Any] = field(default_factory=dict)

    @property
    def is_dimer(self) -> bool:
        return self.dimers is not None


def _molecule(where: str, item: Dict) -> MoleculeSpec:
    _check_keys(where, item, ["name", "smiles", "charge", "uhf", "category"])
    for key in ("name", "smiles"):
        if key not in item:
            raise ValueError(f"{where}: missing key {key!r}")
    charge, uhf = item.get("charge"), item.get("uhf", 0)
    for key, value, least in (("charge", charge, None), ("uhf", uhf, 0)):
        if value is None and key == "charge":
            continue
        whole = whole_number(value, text=False)
        if whole is None or (least is not None and whole < least):
            raise ValueError(f"{where}: {key} must be a whole number{' >= 0 (unpaired electrons)' if least == 0 else ''}, "
                             f"got {value!r}")
    return MoleculeSpec(name=str(item["name"]), smiles=str(item["smiles"]),
                        charge=whole_number(charge, text=False), uhf=whole_number(uhf, text=False))


def parse_spec(data: Dict, source: str = "<spec>") -> Spec:
    """Validate a spec mapping; ValueError names the file and the offending key."""
    top = ["name", "description", "seed", "label", "conformers", "sampling", "molecules", "dimers", "spot_check"]
    _check_keys(source, data, top)
    for key in ("name", "seed"):
        if key not in data:
            raise ValueError(f"{source}: missing key {key!r}")
    label_raw = data.get("label", {}) or {}
    _check_keys(f"{source}: label", label_raw, ["method", "accuracy", "electronic_temperature", "max_iter"])
    label = LabelSpec(**label_raw)
    coerce_fields(label, f"{source}: label")
    if label.method not in LABEL_METHODS:
        raise ValueError(f"{source}: label.method {label.method!r} unknown; accepted: {list(LABEL_METHODS)}")
    if not label.accuracy > 0 or not label.electronic_temperature > 0 or label.max_iter < 1:
        raise ValueError(f"{source}: label needs accuracy > 0, electronic_temperature > 0 K and max_iter >= 1, "
                         f"got {label.accuracy}, {label.electronic_temperature}, {label.max_iter}")
    conf_raw = data.get("conformers", {}) or {}
    _check_keys(f"{source}: conformers", conf_raw, ["n", "candidates", "select"])
    conformers = ConformerSpec(**conf_raw)
    coerce_fields(conformers, f"{source}: conformers")
    if conformers.n < 1 or conformers.candidates < 0:
        raise ValueError(f"{source}: conformers needs n >= 1 and candidates >= 0, got {conformers.n}, "
                         f"{conformers.candidates}")
    if conformers.select not in CONFORMER_SELECTIONS:
        raise ValueError(f"{source}: conformers.select {conformers.select!r} unknown; accepted: "
                         f"{list(CONFORMER_SELECTIONS)}")
    sampling = data.get("sampling", []) or []
    if not isinstance(sampling, list):
        raise ValueError(f"{source}: sampling must be a list of steps, got {type(sampling).__name__}")
    steps = []
    for i, item in enumerate(sampling):
        where = f"{source}: sampling[{i}]"
        _check_keys(where, item, list(SamplingStep.__dataclass_fields__))
        if item.get("kind") not in SAMPLING_KINDS:
            raise ValueError(f"{where}: kind must be one of {list(SAMPLING_KINDS)}, got {item.get('kind')!r}")
        step = SamplingStep(**item)
        coerce_fields(step, where)
        wrong = sorted(set(item) & set(MD_ONLY_KEYS)) if step.kind != "md" else (["sigma"] if "sigma" in item else [])
        if wrong:
            raise ValueError(f"{where}: {wrong} belong(s) to {'md' if step.kind != 'md' else 'displace, stretch and contact'} "
                             f"steps only (this step is {step.kind!r})")
        if step.kind == "md" and step.sampler not in SAMPLERS:
            raise ValueError(f"{where}: sampler {step.sampler!r} unknown; accepted: {list(SAMPLERS)}")
        if step.frames < 1 or step.stride < 1 or step.equilibration < 0:
            raise ValueError(f"{where}: frames and stride must be >= 1 and equilibration >= 0")
        if step.kind == "md" and (not step.temperatures or min(step.temperatures) <= 0 or step.timestep <= 0
                                  or step.friction <= 0):
            raise ValueError(f"{where}: an md step needs at least one temperature, all > 0 K, and timestep > 0 fs "
                             f"and friction > 0 1/fs; got {step.temperatures}, {step.timestep}, {step.friction}")
        if step.kind == "stretch" and not 1.5 <= step.max_length <= 10.0:
            raise ValueError(f"{where}: max_length must be between 1.5 and 10 Å, got {step.max_length}")
        if step.kind != "stretch" and "max_length" in item:
            raise ValueError(f"{where}: max_length belongs to 'stretch' steps only (this step is {step.kind!r})")
        if step.kind == "contact" and not 0.5 <= step.min_distance < 1.8:
            raise ValueError(f"{where}: min_distance must be at least 0.5 and below 1.8 Å, got {step.min_distance}")
        if step.kind != "contact" and "min_distance" in item:
            raise ValueError(f"{where}: min_distance belongs to 'contact' steps only (this step is {step.kind!r})")
        if step.kind != "md" and not (0.0 <= float(step.sigma) <= 1.0):
            raise ValueError(f"{where}: sigma must be between 0 and 1 Å, got {step.sigma}")
        steps.append(step)
    molecules = [_molecule(f"{source}: molecules[{i}]", m) for i, m in enumerate(data.get("molecules", []) or [])]
    names = [m.name for m in molecules]
    if len(set(names)) != len(names):
        raise ValueError(f"{source}: molecule names must be unique")
    dimers = None
    if data.get("dimers") is not None:
        raw = data["dimers"]
        _check_keys(f"{source}: dimers", raw, list(DimerSpec.__dataclass_fields__))
        for key in ("monomers", "pairs"):
            if not isinstance(raw.get(key), list) or not raw[key]:
                raise ValueError(f"{source}: dimers.{key} must be a non-empty list, got {raw.get(key)!r}")
        monomers = [_molecule(f"{source}: dimers.monomers[{i}]", m) for i, m in enumerate(raw["monomers"])]
        known = {m.name for m in monomers}
        for p in raw["pairs"]:
            if not isinstance(p, list) or len(p) != 2 or not set(map(str, p)) <= known:
                raise ValueError(f"{source}: dimers.pairs entry {p!r} must name two monomers from {sorted(known)}")
        pairs = [[str(a), str(b)] for a, b in raw["pairs"]]
        dimers = DimerSpec(**{**raw, "monomers": monomers, "pairs": pairs})
        coerce_fields(dimers, f"{source}: dimers", skip=("monomers", "pairs"))
        if dimers.replicas < 1 or dimers.frames < 1 or dimers.md_steps < 0:
            raise ValueError(f"{source}: dimers needs replicas >= 1, frames >= 1 and md_steps >= 0")
        if not (dimers.temperature > 0 and dimers.timestep > 0 and dimers.friction > 0 and dimers.max_charge_transfer > 0):
            raise ValueError(f"{source}: dimers needs temperature, timestep, friction and max_charge_transfer > 0")
        if not 0 < dimers.gap_min < dimers.gap_max:
            raise ValueError(f"{source}: dimers needs 0 < gap_min < gap_max")
        if not 0 <= dimers.far_fraction <= 1 or (dimers.far_fraction > 0 and dimers.far_gap_max <= dimers.gap_max):
            raise ValueError(f"{source}: dimers needs 0 <= far_fraction <= 1, and far_gap_max > gap_max when "
                             f"far_fraction > 0")
        if dimers.monomer_replicas < 0 or dimers.monomer_frames < 0:
            raise ValueError(f"{source}: dimers.monomer_replicas and monomer_frames must be >= 0")
    if not molecules and dimers is None:
        raise ValueError(f"{source}: needs 'molecules' or 'dimers'")
    if molecules and dimers is not None:
        raise ValueError(f"{source}: give either 'molecules' or 'dimers', not both")
    if molecules and not steps:
        raise ValueError(f"{source}: 'sampling' must list at least one md, displace, stretch or contact step")
    if dimers is not None and steps:
        raise ValueError(f"{source}: a dimer spec samples by its 'dimers' options (md_steps, temperature, ...); "
                         f"its 'sampling' list would be ignored: remove it")
    spot_raw = data.get("spot_check", {}) or {}
    _check_keys(f"{source}: spot_check", spot_raw, ["structures", "components", "step", "relabel"])
    spot_check = SpotCheckSpec(**spot_raw)
    coerce_fields(spot_check, f"{source}: spot_check")
    if spot_check.structures < 1 or spot_check.components < 1 or not spot_check.step > 0 or spot_check.relabel < 0:
        raise ValueError(f"{source}: spot_check needs structures >= 1, components >= 1, step > 0 Å and relabel >= 0")
    if not isinstance(data.get("description", ""), str):  # YAML reads 2026-01-01 as a date, 1.5 as a number
        raise ValueError(f"{source}: description must be text (put it in quotes), got {data['description']!r}")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", str(data["name"])):
        raise ValueError(f"{source}: name must be a plain dataset name (letters, digits, '.', '_', '-'; it names the "
                         f"output folder data/<name>), got {data['name']!r}")
    seed = data["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"{source}: seed must be a whole number >= 0, got {seed!r}")
    return Spec(
        name=str(data["name"]),
        seed=seed,
        label=label,
        conformers=conformers,
        sampling=steps,
        molecules=molecules,
        dimers=dimers,
        spot_check=spot_check,
        description=str(data.get("description", "")),
        raw=data,
    )


def load_spec(path: str) -> Spec:
    """Read and validate a YAML spec file."""
    with open(path) as handle:
        try:
            data = yaml.safe_load(handle)
        except yaml.YAMLError as exc:
            raise ValueError(f"{path} is not valid YAML: {exc}") from None
    return parse_spec(data, source=path)
