"""The training loop: checkpoint every epoch, bit-for-bit resume, optional DDP (torchrun).

Run directory layout (``config.out_dir``)::

    config.json        the configuration used
    checkpoint.pt      last finished epoch (model, optimiser, history, RNG, best model)
    best_model.pt      best model so far (openmm_range.save_model format)
    metrics.csv        one row per epoch
    split.json         the structure indices of each split (in the concatenated data)
    stop_request       written by ``openmm-range campaign stop --after-epoch``: the trainer
                       ends after the epoch it is in, once that epoch is checkpointed; one
                       older than the trainer's launch (see LAUNCHED_AT) is discarded at start
    learning_curves.png, parity_test.png   at the end

Checkpoints are written atomically and read with ``torch.load(weights_only=True)``.
The data order of epoch e is drawn from a generator seeded with (init_seed, e), so a resumed
run sees exactly the batches an uninterrupted one would.
"""
import contextlib
import copy
import csv
import dataclasses
import json
import math
import os
import platform
import time
import warnings
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.distributed as dist
from torch_geometric.data import Batch

from ..api import create_model
from ..serialization import atomic_write, load_weights_only, read_metadata, save_model
from .config import TrainConfig
from .loss import accumulate, loss_terms, summarise

CHECKPOINT = "checkpoint.pt"
#: A file whose presence asks a running trainer to end after its current epoch (see above).
STOP_REQUEST = "stop_request"
#: Environment variable with the time (``time.time()``) a campaign scheduler launched the trainer.
#: A stop request written after it is kept at start, even if written before the trainer took its
#: lock (a trainer spends seconds importing first); without it every request found at start is
#: one of an ended trainer, and is discarded.
LAUNCHED_AT = "OPENMM_RANGE_LAUNCHED_AT"
#: Entries a checkpoint must hold to be resumed (``data_hash`` is optional).
_CHECKPOINT_KEYS = {"epoch", "model", "optimizer", "rng", "best", "best_epoch", "best_model", "history", "config",
                    "wall_s"}


class _LossModule(torch.nn.Module):
    """Wraps the model so DistributedDataParallel sees one forward returning the loss."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, batch, alpha: float, scale: float, delta: float, config: TrainConfig,
                totals: Optional[Tuple[int, int]] = None):
        data_loss, stats = loss_terms(self.model, batch, alpha, config.loss == "per-atom", config.energy_weight,
                                      config.force_weight, totals)
        reg = self.model.regularization() if self.model.use_range else torch.zeros((), dtype=data_loss.dtype)
        return scale * data_loss + delta * reg, stats


class TrainingDiverged(RuntimeError):
    """Training diverged again after the learning rate was halved as often as allowed; the run
    directory keeps its last good checkpoint (the CLI reports it without a traceback)."""


def load_data(config: TrainConfig):
    """Concatenate the configured datasets, optionally subsample, and split.

    Returns ``(full, (train, val, test), parts)``; ``parts`` lists ``(path, start, stop)``: the
    structures of each dataset in ``full`` (which keeps the datasets in the order of ``data``)."""
    from ..data import concat_datasets, load_dataset

    if not config.data:
        raise ValueError("no training data: set 'data' to one or more dataset paths")
    dtype = getattr(torch, config.dtype)
    parts = [load_dataset(p, dtype=dtype) for p in config.data]
    if isinstance(config.max_structures, list):
        parts = [_subsample(d, m, config.seed + k) for k, (d, m) in enumerate(zip(parts, config.max_structures))]
    full = parts[0] if len(parts) == 1 else concat_datasets(parts, dtype=dtype)
    if isinstance(config.max_structures, int):
        full = _subsample(full, config.max_structures, config.seed)
        sizes = [len(full)] if len(parts) == 1 else None
    else:
        sizes = [len(d) for d in parts]
    bounds = np.cumsum([0] + sizes) if sizes else None
    spans = [(p, int(bounds[k]), int(bounds[k + 1])) for k, p in enumerate(config.data)] if sizes else []
    if config.keep_split:
        return full, _kept_split(full, config), spans
    return full, full.split(config.split, by=config.split_by, seed=config.seed,
                            held_out=config.held_out_molecules), spans


def _kept_split(full, config: TrainConfig):
    """(train, val, test) of ``full``: the structures of run ``config.keep_split`` keep their parts,
    the rest (the datasets added after that run's) is split by ``config.split``."""
    run = Path(config.keep_split)
    try:
        earlier = json.loads((run / "config.json").read_text())
        saved = json.loads((run / "split.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"keep_split {run}: needs the config.json and split.json of a training run ({exc})") from exc
    n_old = len(earlier.get("data", []))
    old_max = earlier.get("max_structures")
    new_max = config.max_structures if isinstance(config.max_structures, list) else None
    if (list(config.data[:n_old]) != list(earlier.get("data", [])) or earlier.get("seed") != config.seed
            or not isinstance(old_max, list) or new_max is None or new_max[:n_old] != old_max):
        raise ValueError(f"keep_split {run}: its data {earlier.get('data')} (max_structures {old_max}, seed "
                         f"{earlier.get('seed')}) must be the first entries of this run's data, with the same "
                         f"max_structures (as a list) and seed")
    if config.held_out_molecules:
        raise ValueError(f"keep_split {run} and held_out_molecules cannot be combined: the kept split decides "
                         f"where the earlier structures go")
    parts = [np.asarray(saved.get(name, []), dtype=np.int64) for name in ("train", "val", "test")]
    count = sum(len(p) for p in parts)
    # split.json numbers the structures as the earlier run loaded them (a run on one subsampled
    # dataset: that dataset's indices, in order); here they are the first ``count`` structures
    everything = np.sort(np.concatenate(parts))
    if len(np.unique(everything)) != count or count > len(full):
        raise ValueError(f"keep_split {run}: split.json must name each of the run's structures once, and no more "
                         f"than the data hold ({len(full)})")
    parts = [np.searchsorted(everything, p) for p in parts]
    # the same structures as then: a regenerated or grown dataset would move the saved indices onto others
    try:
        then = read_metadata(run / "best_model.pt").get("training_data_hash")
    except (OSError, ValueError) as exc:
        raise ValueError(f"keep_split {run}: needs the run's best_model.pt, whose training-data hash shows "
                         f"that the data are unchanged ({exc})") from exc
    now = full.subset(np.arange(count)).content_hash
    if then != now:
        raise ValueError(f"keep_split {run}: its data have changed since that run (content hash {then} then, "
                         f"{now} now): its split no longer names the same structures")
    added = full.subset(np.arange(count, len(full))).split(config.split, by=config.split_by, seed=config.seed)
    position = {int(b): k for k, b in enumerate(full.parent_indices)}
    return tuple(full.subset(np.sort(np.concatenate([old, [position[int(b)] for b in new.parent_indices]])))
                 for old, new in zip(parts, added))


def _subsample(dataset, count, seed: int):
    """``count`` structures of ``dataset`` drawn at random (order kept); all of it when 0/None/too many."""
    if not count or count >= len(dataset):
        return dataset
    g = torch.Generator().manual_seed(seed)
    return dataset.subset(torch.randperm(len(dataset), generator=g)[:count].sort().values.numpy())


def build_model(config: TrainConfig, train_set):
    """Model with elements, N_min/N_max and the readout's per-element shift/scale from the training set."""
    stats = train_set.stats
    hp = dict(config.hyperparameters)
    hp.setdefault("elements", stats["elements"])
    torch.manual_seed(config.init_seed)
    model = create_model(config.model, **hp).to(getattr(torch, config.dtype))
    # Lambda_I(n) and the charges seen: per molecule (a dimer is two), as the master nodes see them
    key = "molecule_" if model.per_molecule else ""
    model.set_size_range(stats[key + "n_min"], stats[key + "n_max"])
    model.config.charges = tuple(stats["molecule_charges"])
    with torch.no_grad():
        for k, z in enumerate(model.config.elements):
            model.readout.shift[k] = float(stats["atom_ref_energies"].get(z, stats["atom_ref_energies"].get(str(z), 0.0)))
        model.readout.scale.fill_(max(float(stats["force_rms"]), 1e-3))
    return model


def init_weights(model, path: str) -> None:
    """Copy the weights of the model file ``path`` into ``model`` (fine-tuning). The file is read
    as data (``load_model``); ValueError naming it when its architecture differs from ``model``'s."""
    from ..serialization import load_model

    source = load_model(path)
    if source.config.name != model.config.name:
        raise ValueError(f"init_from {path}: a {source.config.name!r} model cannot start a {model.config.name!r} run")
    # settings that change what the weights mean without changing their shapes (training-set facts aside)
    theirs_cfg, mine_cfg = source.config.to_dict(), model.config.to_dict()
    changed = sorted(k for k in set(theirs_cfg) | set(mine_cfg)
                     if k not in ("n_min", "n_max", "charges") and theirs_cfg.get(k) != mine_cfg.get(k))
    if changed:
        raise ValueError(f"init_from {path}: its settings differ from the config's: "
                         + "; ".join(f"{k} {theirs_cfg.get(k)!r} there, {mine_cfg.get(k)!r} here" for k in changed)
                         + "; use the same hyperparameters (and the same elements in the data)")
    mine, theirs = model.state_dict(), source.state_dict()
    differ = sorted(k for k in set(mine) | set(theirs)
                    if k not in mine or k not in theirs or mine[k].shape != theirs[k].shape)
    if differ:
        raise ValueError(f"init_from {path}: its architecture differs from the config's (parameters "
                         f"{', '.join(differ[:5])}{' ...' if len(differ) > 5 else ''}); use the same hyperparameters")
    with torch.no_grad():
        for key, value in theirs.items():
            mine[key].copy_(value.to(mine[key].dtype))


def param_groups(model, config: TrainConfig):
    lam, ab, net = [], [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (lam if name.endswith("lambda_raw") else ab if name.endswith(("a_raw", "b_raw")) else net).append(p)
    groups = [{"params": net, "step": config.lr_step_network, "name": "network"},
              {"params": lam, "step": config.lr_step_lambda, "name": "lambda"},
              {"params": ab, "step": config.lr_step_ab, "name": "a_b"}]
    return [g for g in groups if g["params"]]


def set_learning_rates(optimizer, config: TrainConfig, epoch: float, scale: float = 1.0) -> None:
    """The learning rate at (fractional) ``epoch``, a stateless function so that resume is exact.

    'step': per group, lr * gamma ** (floor(epoch) // step). 'cosine': lr * epoch / warmup during
    the warm-up, then lr_min + (lr - lr_min) (1 + cos(pi x)) / 2 with x from 0 to 1 at the last epoch.
    ``scale`` is the divergence guard's factor (1, 1/2, 1/4, ...), kept in the checkpoint.
    """
    for group in optimizer.param_groups:
        group["lr"] = scale * learning_rate(config, epoch, group["step"])


#: the training error sums of an epoch (loss.loss_terms's stats)
_ACC_KEYS = ("e_abs", "f_abs", "e_sq", "f_sq", "n_mol", "n_comp")


def _all_ranks_mean(value: float, device) -> float:
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t) / dist.get_world_size()


def _all_ranks_sum(values: List[float], device) -> List[float]:
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def _rank0_values(values: List[float], device) -> List[float]:
    """``values`` as process 0 has them, on every process (torchrun; one decision for all)."""
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.broadcast(t, 0)
    return t.tolist()


def diverged(median_loss: float, history: List[Dict], factor: float, finite_weights: bool = True) -> bool:
    """True when the weights are no longer finite, or when an epoch's median batch loss is not
    finite or exceeds ``factor`` x the lowest of the earlier epochs in ``history`` (never for the
    first epoch, nor with ``factor`` 0).

    The median, not the mean: one outlier batch (a structure whose loss spikes for a step, its
    gradient clipped) can lift an epoch's mean loss tenfold while training goes on unharmed;
    a divergence lifts the typical batch. Epochs recorded before the median was kept compare
    with their mean, which is never below their median (so such a comparison trips less)."""
    if factor == 0.0:
        return False
    if not finite_weights or not math.isfinite(median_loss):
        return True
    if not history:
        return False
    lowest = min(float(r.get("train_loss_median", r["train_loss"])) for r in history)
    return median_loss > factor * lowest


def learning_rate(config: TrainConfig, epoch: float, step: int) -> float:
    if config.schedule == "step":
        return config.lr * config.lr_gamma ** (int(epoch) // step)
    if epoch < config.warmup_epochs:
        return config.lr * (epoch + 1e-3) / config.warmup_epochs
    x = min(1.0, (epoch - config.warmup_epochs) / max(config.epochs - config.warmup_epochs, 1e-9))
    low = config.lr * config.lr_min_factor
    return low + (config.lr - low) * 0.5 * (1.0 + math.cos(math.pi * x))


def _on_device(state: Dict[str, torch.Tensor], device) -> Dict[str, torch.Tensor]:
    """A copy of ``state`` on ``device`` (a checkpoint is read onto the CPU; the run may be on a GPU)."""
    return {k: v.to(device, copy=True) for k, v in state.items()}


class _EMA:
    """Exponential moving average of a model's floating-point state (parameters and buffers)."""

    def __init__(self, model, decay: float):
        self.decay = decay
        self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model) -> None:
        for k, v in model.state_dict().items():
            if v.dtype.is_floating_point:
                self.state[k].mul_(self.decay).add_(v.detach(), alpha=1.0 - self.decay)
            else:
                self.state[k].copy_(v)

    @contextlib.contextmanager
    def applied(self, model):
        """Within the block ``model`` holds the averaged weights; its own come back afterwards."""
        own = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(self.state)
        try:
            yield
        finally:
            model.load_state_dict(own)


def _grad_norm_stats(norms: List[float], clip: Optional[float]) -> Dict[str, float]:
    """Median and 90th percentile of the per-step gradient norm, and the fraction of steps clipped."""
    arr = np.asarray(norms, dtype=np.float64)
    return {"grad_norm_median": float(np.median(arr)), "grad_norm_p90": float(np.percentile(arr, 90)),
            "clipped_fraction": float((arr > clip).mean()) if clip else 0.0}


def regularization_weight(config: TrainConfig, train_set) -> float:
    """The weight of L_reg in the batch loss.

    ``reg_delta`` is in the paper's units: it multiplies L_reg beside the unnormalised sum
    ``sum_atoms |dF|^2`` of a batch, which is ``3 * N_atoms * batch_size`` times the per-atom
    loss's force term ``mean_components dF^2``. With ``loss: per-atom`` the weight is divided by
    that factor (mean atoms per training structure), so that the regulariser keeps the paper's
    balance against the forces instead of outweighing them a thousandfold.
    """
    if config.loss != "per-atom":
        return config.reg_delta
    stats = train_set.stats  # cached: the same statistics build_model used
    atoms = stats["n_atoms_total"] / stats["n_structures"]
    return config.reg_delta / (3.0 * atoms * config.batch_size)


def alpha_at(config: TrainConfig, epoch: int) -> float:
    return config.alpha_initial if epoch < config.alpha_switch_epoch else config.alpha_final


def batches(n: int, batch_size: int, seed: int, epoch: int, shuffle: bool = True) -> List[List[int]]:
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100003 + epoch)) if shuffle else torch.arange(n)
    return [order[i:i + batch_size].tolist() for i in range(0, n, batch_size)]


def evaluate_split(model, dataset, batch_size: int, device) -> Dict[str, float]:
    """Energy/force MAE and RMSE (meV, meV/Å) of ``dataset``, as ``openmm-range evaluate`` reports them."""
    from .evaluate import errors, metrics

    overall = metrics(errors(model, dataset, batch_size, device))["all"]
    return {k: v for k, v in overall.items() if k != "structures"}


def train(config: TrainConfig, resume: bool = False, log=print) -> Dict:
    """Train (or resume) according to ``config``; returns the final summary dict."""
    flushing = _flushes_denormals()  # training flushes subnormal floats; the caller's setting comes back after
    try:
        with contextlib.ExitStack() as held:  # the run directory's lock, released on return or error
            return _train(config, resume, log, held)
    finally:
        torch.set_flush_denormal(flushing)


def _flushes_denormals() -> bool:
    """Whether CPU float arithmetic currently flushes subnormal results to zero."""
    return bool(torch.tensor(torch.finfo(torch.float32).tiny) / 2 == 0)


def _discard_stale_stop_request(out: Path) -> None:
    """Delete ``out/stop_request`` if it was written before this trainer was launched (asked of a
    trainer that has ended, not of this one). The time asked is the number the request starts with
    (``campaign stop`` writes it, from the clock that set LAUNCHED_AT), else the file's mtime (a
    request made by hand)."""
    try:
        launched = float(os.environ.get(LAUNCHED_AT, "inf"))
    except ValueError:
        launched = math.inf
    request = out / STOP_REQUEST
    try:
        try:
            asked = float(request.read_text().split()[0])
        except (ValueError, IndexError):
            asked = request.stat().st_mtime
        if asked < launched:
            request.unlink(missing_ok=True)
    except FileNotFoundError:
        pass


def _train(config: TrainConfig, resume: bool, log, held: contextlib.ExitStack) -> Dict:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if config.device.startswith("cuda") else "gloo")
    if config.threads:
        torch.set_num_threads(config.threads)
    # Subnormal floats (tiny attention weights, filter values far out) are handled in microcode
    # on x86 CPUs; flushing them to zero made CPU training steps 1.2-1.5x faster after the RBF fix
    # (nn/radial.py), and changes nothing a float32 model can resolve. No effect on GPUs.
    for dtype in (np.float16, np.float32, np.float64):  # numpy's float limits, read once before flushing
        np.finfo(dtype)  # (read after it, they warn that the smallest subnormal is zero)
    torch.set_flush_denormal(True)
    device = torch.device(config.device if not config.device.startswith("cuda") or world == 1
                          else f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}")
    out = Path(config.out_dir)
    is_main = rank == 0
    if not config.data:  # the checks of what is given come before the run directory is made
        raise ValueError("no training data: set 'data' to one or more dataset paths")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {config.device!r}: no CUDA GPU is available to this process; use device 'cpu'")
    missing = [p for p in config.data if not Path(p).exists()]
    if missing:  # before the run directory is made: a mistyped path leaves nothing behind
        raise FileNotFoundError(f"training data {', '.join(map(str, missing))}: no such file or directory")
    finished, refused = None, None
    if is_main:
        try:
            out.mkdir(parents=True, exist_ok=True)
            held.enter_context(_lock_run_dir(out))
            _discard_stale_stop_request(out)
            finished = _existing_run(out, resume)
        except Exception as exc:  # noqa: BLE001 - told to the other processes below, then raised
            refused = exc
    if world > 1:  # the other processes follow process 0's start-up decision instead of waiting on it
        code = _rank0_values([2.0 if refused is not None else 1.0 if finished is not None else 0.0], device)[0]
        if code == 2.0 and refused is None:
            raise RuntimeError("process 0 refused to start this run (its error says why)")
        if code == 1.0 and not is_main:
            return {"finished": True, "out_dir": str(out)}
    if refused is not None:
        raise refused
    if finished is not None:
        log(f"{out} holds a finished run (summary.json, no checkpoint to extend): nothing to do")
        return finished
    full, (train_set, val_set, test_set), spans = load_data(config)
    if len(train_set) == 0 or len(val_set) == 0:
        raise ValueError(f"split {config.split} of {len(full)} structures leaves an empty training or validation set")
    model = build_model(config, train_set)
    if config.init_from and not (resume and (out / CHECKPOINT).exists()):
        init_weights(model, config.init_from)
        log(f"initialised from {config.init_from}")
    model = model.to(device)
    optimizer = torch.optim.AdamW(param_groups(model, config), lr=config.lr, weight_decay=config.weight_decay)
    ema = _EMA(model, config.ema_decay) if config.ema_decay > 0 else None
    history: List[Dict] = []
    start_epoch, best, best_epoch, best_state, wall = 0, math.inf, -1, None, 0.0
    lr_scale, ckpt = 1.0, None
    ckpt_path = out / CHECKPOINT
    if resume and ckpt_path.exists():
        ckpt = load_weights_only(ckpt_path, "a training checkpoint (only checkpoints written by `openmm-range train` "
                                            "are accepted)")
        missing = sorted(_CHECKPOINT_KEYS - set(ckpt if isinstance(ckpt, dict) else ()))
        if missing:
            raise ValueError(f"{ckpt_path} is not a training checkpoint written by `openmm-range train` (it lacks "
                             f"{', '.join(missing)}); remove it or use a new out_dir")
        then, now = _resumable(json.loads(ckpt["config"])), _resumable(config.to_dict())
        if then != now:
            changed = ", ".join(f"{k}: {then.get(k)!r} -> {now.get(k)!r}" for k in sorted(set(then) | set(now))
                                if then.get(k) != now.get(k))
            raise ValueError(f"{ckpt_path}: the checkpoint was made with a different configuration ({changed}); "
                             "resume with the same config or use a new out_dir")
        if ckpt.get("data_hash") != full.content_hash:
            raise ValueError(f"{ckpt_path}: the training data changed since this checkpoint (content hash "
                             f"{ckpt.get('data_hash')} -> {full.content_hash}); resume needs the same data")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(copy.deepcopy(ckpt["optimizer"]))  # ckpt stays the guard's clean copy
        if ema is not None:
            ema.state = _on_device(ckpt["ema"], device)
        torch.set_rng_state(ckpt["rng"])
        start_epoch, best, best_epoch = int(ckpt["epoch"]) + 1, float(ckpt["best"]), int(ckpt["best_epoch"])
        best_state, history, wall = ckpt["best_model"], json.loads(ckpt["history"]), float(ckpt["wall_s"])
        lr_scale = float(ckpt.get("lr_scale", 1.0))
        log(f"resuming {out} at epoch {start_epoch}")
        planned = json.loads(ckpt["config"]).get("epochs")
        if config.schedule == "cosine" and planned != config.epochs:
            log(f"epochs changed from {planned} to {config.epochs}: the cosine schedule is stretched over the new "
                f"length, so the learning rate continues from its value at epoch {start_epoch} of {config.epochs}")
    elif resume:
        log(f"no checkpoint in {out}: starting a new run")
    if is_main:
        _write_json(out / "config.json", config.to_dict())
        _write_json(out / "split.json", {"train": train_set.parent_indices.tolist(),
                                         "val": val_set.parent_indices.tolist(),
                                         "test": test_set.parent_indices.tolist()}, indent=None)
    runner = _LossModule(model)
    delta = regularization_weight(config, train_set)
    if world > 1:
        runner = torch.nn.parallel.DistributedDataParallel(runner)
    if ckpt is None:  # the divergence guard's state to return to, should the first epoch leave NaN weights
        ckpt = copy.deepcopy({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                              "rng": torch.get_rng_state(), **({"ema": ema.state} if ema is not None else {})})
    undone_cpu = 0.0  # CPU seconds of epochs undone by the guard, counted in the next epoch's row
    stale = 0 if best_epoch < 0 else (start_epoch - 1 - best_epoch)
    # a run that had stopped early stays stopped on resume (unless the patience grew)
    epoch = config.epochs if config.early_stopping_patience and stale >= config.early_stopping_patience else start_epoch
    while epoch < config.epochs:
        t0, c0 = time.perf_counter(), time.process_time()
        set_learning_rates(optimizer, config, epoch, lr_scale)
        alpha = alpha_at(config, epoch)
        model.train()
        acc: Dict[str, float] = {}
        total_loss = 0.0
        batch_losses: List[float] = []
        norms: List[float] = []
        plan = batches(len(train_set), config.batch_size, config.init_seed, epoch)
        progress = _progress(len(plan), f"epoch {epoch + 1}/{config.epochs}", is_main)
        for k, idx in enumerate(plan):
            if config.schedule != "step":
                set_learning_rates(optimizer, config, epoch + k / len(plan), lr_scale)
            mine = idx[rank::world]
            spare = not mine  # torchrun, a batch smaller than the processes: this one has no share
            batch = Batch.from_data_list([train_set[i] for i in (mine or idx[:1])]).to(device)
            optimizer.zero_grad(set_to_none=True)
            totals = None
            if world == 1:
                scale = 1.0
            else:
                # DDP averages gradients over processes: each process's data loss, scaled by the
                # number of processes, is its share of the whole batch's (a sum for the paper's loss;
                # for per-atom means, its sums over the whole batch's counts), so the update equals
                # one process's on the whole batch. A process without a share runs one structure
                # at weight 0, to join the gradient exchange.
                scale = 0.0 if spare else float(world)
                if config.loss == "per-atom":
                    counts = _all_ranks_sum([0.0 if spare else float(batch.num_graphs),
                                             0.0 if spare else float(batch.forces.numel())], device)
                    totals = (int(counts[0]), int(counts[1]))
            loss, stats = runner(batch, alpha, scale, delta, config, totals)
            loss.backward()
            # the norm before clipping (an infinite limit only measures it)
            norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip or math.inf)))
            optimizer.step()
            if ema is not None:
                ema.update(model)
            if not spare:
                accumulate(acc, stats)
            batch_losses.append(float(loss.detach()))
            total_loss += batch_losses[-1]
            progress.update(1)
            progress.set_postfix(loss=f"{total_loss / max(progress.n, 1):.4g}")
        progress.close()
        mean_loss = total_loss / len(plan)
        median_loss = float(np.median(batch_losses))
        finite = all(bool(torch.isfinite(p).all()) for p in model.parameters())
        if world > 1:  # every rank takes the same decision; the training errors are the whole batches'
            mean_loss = _all_ranks_mean(mean_loss, device)
            median_loss = _all_ranks_mean(median_loss, device)
            finite = _all_ranks_mean(float(finite), device) == 1.0
            acc = dict(zip(_ACC_KEYS, _all_ranks_sum([float(acc.get(k, 0.0)) for k in _ACC_KEYS], device)))
        worst = int(np.argmax(batch_losses))
        if is_main and batch_losses[worst] > 10 * max(median_loss, 1e-12):
            clip = f" (clipped to {config.grad_clip:g})" if config.grad_clip and norms[worst] > config.grad_clip else ""
            log(f"epoch {epoch + 1}: batch {worst + 1} of {len(plan)} had loss {batch_losses[worst]:.4g} (median "
                f"{median_loss:.4g}), gradient norm {norms[worst]:.4g}{clip}; structures (indices of the "
                f"concatenated data) {[int(train_set.parent_indices[i]) for i in plan[worst][rank::world]]}")
        if diverged(median_loss, history, config.divergence_factor, finite):
            if lr_scale <= 0.5 ** config.max_lr_halvings:
                last_good = ckpt_path if "epoch" in ckpt else "the initial weights (no epoch was kept)"
                raise TrainingDiverged(f"training diverged in epoch {epoch + 1} (median batch loss {median_loss:.4g}, "
                                   f"mean {mean_loss:.4g}) and the learning "
                                   f"rate was already halved {config.max_lr_halvings} times; the last good state "
                                   f"is {last_good}")
            lr_scale *= 0.5
            if is_main:
                log(f"epoch {epoch + 1} diverged (median batch loss {median_loss:.4g}, mean {mean_loss:.4g}, "
                    f"weights {'finite' if finite else 'not finite'}): undone, redone with the learning "
                    f"rate x {lr_scale:g}")
            model.load_state_dict(ckpt["model"])  # the state at the end of the previous epoch
            optimizer.load_state_dict(copy.deepcopy(ckpt["optimizer"]))  # (it may keep the tensors given)
            if ema is not None:
                ema.state = _on_device(ckpt["ema"], device)
            torch.set_rng_state(ckpt["rng"])
            wall += time.perf_counter() - t0  # the undone epoch's time counts in the run's cost
            undone_cpu += time.process_time() - c0
            continue
        with ema.applied(model) if ema is not None else contextlib.nullcontext():
            val = evaluate_split(model, val_set, config.batch_size, device)
            if world > 1:  # process 0's numbers for all (GPU sums may differ in the last bit): one decision
                val = dict(zip(sorted(val), _rank0_values([val[k] for k in sorted(val)], device)))
            improved = val["force_mae_mev_a"] < best
            if improved:  # the weights validated (the averaged ones with EMA)
                best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        wall += time.perf_counter() - t0
        row = {"epoch": epoch + 1, "alpha": alpha, "lr": optimizer.param_groups[0]["lr"],
               "train_loss": mean_loss, "train_loss_median": median_loss, **{f"train_{k}": v for k, v in summarise(acc).items()},
               **{f"val_{k}": v for k, v in val.items()}, "epoch_s": time.perf_counter() - t0,
               # this process's CPU time (comparable under load), with that of epochs undone before it
               "epoch_cpu_s": time.process_time() - c0 + undone_cpu,
               **_grad_norm_stats(norms, config.grad_clip), "lr_scale": lr_scale}
        history.append(row)
        undone_cpu = 0.0
        metric = val["force_mae_mev_a"]
        if improved:
            best, best_epoch, stale = metric, epoch, 0
        else:
            stale += 1
        if is_main:
            log(f"epoch {epoch + 1}: loss {row['train_loss']:.4g}  val E MAE {val['energy_mae_mev']:.2f} meV  "
                f"F MAE {val['force_mae_mev_a']:.2f} meV/Å  ({row['epoch_s']:.1f} s)")
        # a copy (training changes the tensors in place): the divergence guard returns to it
        ckpt = copy.deepcopy({"epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                              "rng": torch.get_rng_state(), "best": best, "best_epoch": best_epoch,
                              "best_model": best_state, "history": json.dumps(history), "config": config.to_json(),
                              "wall_s": wall, "data_hash": full.content_hash, "lr_scale": lr_scale,
                              **({"ema": ema.state} if ema is not None else {})})
        if is_main:  # the checkpoint first: a kill between the two leaves a run that resumes (its
            # history rewrites metrics.csv), where metrics.csv alone would be refused as a run without one
            atomic_write(ckpt_path, lambda tmp: torch.save(ckpt, tmp))
            _write_metrics(out / "metrics.csv", history)
            if best_epoch == epoch:
                _save_best(model, best_state, full, config, history, wall, out / "best_model.pt")
        if config.early_stopping_patience and stale >= config.early_stopping_patience:
            if is_main:
                log(f"early stopping: no validation improvement for {stale} epochs")
            break
        epoch += 1
        stop = float(is_main and (out / STOP_REQUEST).exists())
        if world > 1:  # every rank takes the same decision
            stop = _all_ranks_mean(stop, device)
        if stop > 0 and epoch < config.epochs:
            if is_main:
                (out / STOP_REQUEST).unlink(missing_ok=True)
                log(f"stopped after epoch {epoch} as requested ({STOP_REQUEST}); resume with --resume")
            return {"stopped_after_epoch": epoch, "epochs": config.epochs, "out_dir": str(out)}
    if world > 1:
        dist.barrier()
    if is_main:  # a request that came during the last epoch: the run has finished anyway
        (out / STOP_REQUEST).unlink(missing_ok=True)
    summary = {"epochs_run": len(history), "best_epoch": best_epoch + 1, "best_val_force_mae_mev_a": best,
               "wall_s": wall, "train_structures": len(train_set), "out_dir": str(out)}
    if is_main and best_state is not None:
        best_path = out / "best_model.pt"
        if _saved_epochs(best_path) != best_epoch + 1:  # missing, or older than the best weights (a crash between writes)
            _save_best(model, best_state, full, config, history[:best_epoch + 1], wall, best_path)
        model.load_state_dict(best_state)
        if len(test_set):
            from .evaluate import ERROR_KEYS, errors, metrics

            if len(spans) > 1:  # each dataset's test structures evaluated once; the whole split is their union
                idx = test_set.parent_indices
                parts = {path: errors(model, full.subset(idx[(idx >= lo) & (idx < hi)]), config.batch_size, device)
                         for path, lo, hi in spans if ((idx >= lo) & (idx < hi)).any()}
                summary["test"] = metrics({k: np.concatenate([e[k] for e in parts.values()]) for k in ERROR_KEYS})
                summary["test_per_dataset"] = {path: metrics(e) for path, e in parts.items()}
            else:
                summary["test"] = metrics(errors(model, test_set, config.batch_size, device))
        _write_json(out / "summary.json", summary)
        try:
            from .plots import learning_curves, parity_plot
            learning_curves(history, out / "learning_curves.png")
            if len(test_set):
                parity_plot(model, test_set, config.batch_size, device, out / "parity_test.png")
        except ImportError:
            log("matplotlib not installed: no plots")
    return summary


def _write_json(path: Path, data, indent: Optional[int] = 2) -> None:
    """Write ``data`` as JSON atomically; ``indent=None`` for one compact line (split.json:
    thousands of indices, rewritten on every resume)."""
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(data, indent=indent) + "\n"))


def _saved_epochs(path: Path) -> Optional[int]:
    """How many epochs the run had done when ``path`` (a best_model.pt) was written; None if unreadable."""
    try:
        return int(read_metadata(path)["training"]["epochs_run"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _existing_run(out: Path, resume: bool) -> Optional[Dict]:
    """What ``out`` already holds, before a run starts there: the summary of a finished run that
    ``resume`` cannot extend (nothing to do), None to go on; ValueError where going on would
    overwrite a run (a run in progress without ``resume``, or run files without a checkpoint)."""
    has_ckpt, summary = (out / CHECKPOINT).exists(), out / "summary.json"
    if has_ckpt and not resume:
        raise ValueError(f"{out} holds a run in progress ({CHECKPOINT}): continue it with --resume, or choose "
                         f"another out_dir")
    if has_ckpt:
        return None
    if summary.exists():
        if resume:
            return json.loads(summary.read_text())
        raise ValueError(f"{out} holds a finished run (summary.json): choose another out_dir, or delete that "
                         f"run's files to train it again")
    if (out / "metrics.csv").exists():
        raise ValueError(f"{out} holds the files of a run whose {CHECKPOINT} is missing, so it cannot be resumed; "
                         f"restore the checkpoint, or delete that run's files to start again")
    return None


def _lock_run_dir(out: Path):
    """Hold an exclusive lock on ``out``: two trainers writing one run directory would corrupt it.
    The lock file holds the trainer's pid while it is held (``openmm-range campaign stop`` reads it)."""
    import fcntl

    handle = open(out / ".lock", "a+")  # not "w": that would erase the pid of a trainer holding it
    for _ in range(20):  # a campaign scheduler checks the lock for an instant: wait that out
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            handle.truncate(0)
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            return handle
        except BlockingIOError:
            time.sleep(0.1)
        except OSError as exc:  # a filesystem without file locks (some cluster mounts)
            warnings.warn(f"cannot lock {out} ({exc}): nothing stops a second trainer from writing this run "
                          f"directory at the same time")
            return handle
    handle.close()
    raise ValueError(f"another training process is using {out}; wait for it or choose another out_dir")


def _resumable(cfg: Dict) -> Dict:
    """The options that must match to resume (the epoch budget and patience may grow; a run may move
    between CPU and GPU, which changes rounding but not the recipe; the run directory may move, and
    the data paths may be spelt otherwise: the data's content hash is compared instead). Options
    added to TrainConfig after a checkpoint was written take their defaults, which reproduce the old
    behaviour."""
    full = {f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
            for f in dataclasses.fields(TrainConfig)}
    full.update(json.loads(json.dumps(cfg)))
    return {k: v for k, v in json.loads(json.dumps(full)).items()
            if k not in ("epochs", "early_stopping_patience", "threads", "device", "out_dir", "data")}


def _save_best(model, best_state, full, config, history, wall, path):
    best = copy.deepcopy(model).cpu()
    best.load_state_dict(best_state)
    best.metadata = {
        "training_data_hash": full.content_hash,
        "training": {"config": config.to_dict(), "epochs_run": len(history), "wall_s": wall,
                     "hardware": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
                                 + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""),
                     "torch": torch.__version__, "best_val": history[-1] if history else {}},
    }
    save_model(best, path)


def _write_metrics(path: Path, history: List[Dict]) -> None:
    def write(tmp):
        with open(tmp, "w", newline="") as fh:
            # every column any row has (a run resumed by a newer version gains columns)
            w = csv.DictWriter(fh, fieldnames=list(dict.fromkeys(k for row in history for k in row)), restval="")
            w.writeheader()
            w.writerows(history)
    atomic_write(path, write)
    try:
        from torch.utils.tensorboard import SummaryWriter  # optional
    except ImportError:
        return
    with SummaryWriter(str(path.parent / "tensorboard")) as tb:
        row = history[-1]
        for k, v in row.items():
            if k != "epoch":
                tb.add_scalar(k, v, row["epoch"])


def _progress(total: int, desc: str, enabled: bool):
    """A batch progress bar on a terminal; none when stderr is a file (a campaign's train.log keeps
    the one line per epoch, not megabytes of bars)."""
    import sys

    from tqdm import tqdm

    shown = enabled and sys.stderr.isatty()
    return tqdm(total=total, desc=desc, unit="batch", disable=not shown, leave=False, mininterval=1.0)
