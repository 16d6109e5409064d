"""Run a spec: plan tasks, skip finished ones, run the rest on worker processes, store chunks.

Resumable by construction: each task's chunk is written atomically when the task ends,
and a restart runs only tasks without a chunk, so killing the generator loses at most the
tasks in flight. ``meta.json`` records the spec (and its hash: resuming with a changed
spec is refused), the library versions of every run, and at the end the statistics and
a finite-difference spot check of the forces.
"""
import datetime
import hashlib
import json
import multiprocessing
import os
import platform
import sys
import time
from typing import Dict, List, Optional

from openmm_range.data import store
from openmm_range.data.generate.molecules import check_charge_and_spin
from openmm_range.data.generate.spec import Spec, load_spec
from openmm_range.data.generate.tasks import Task, molecule_table, plan_tasks, run_task
from openmm_range.units import INTERNAL_UNITS


def spec_hash(spec: Spec) -> str:
    """SHA-256 of the spec's canonical JSON (what resuming must match)."""
    return hashlib.sha256(json.dumps(spec.raw, sort_keys=True).encode()).hexdigest()


def library_versions() -> Dict[str, str]:
    """Versions of Python, the platform and the libraries that shape the labels (provenance)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for name in ("tblite", "gfnff", "rdkit", "numpy", "ase"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    from openmm_range import __version__

    out["openmm_range"] = __version__
    return out


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _init_meta(spec: Spec, out_dir: str, tasks: List[Task], workers: int) -> Dict:
    path = os.path.join(out_dir, store.META_FILE)
    run = {"started": _now(), "workers": workers, "versions": library_versions()}
    if os.path.isfile(path):
        meta = store.read_meta(out_dir)
        if meta.get("spec_sha256") != spec_hash(spec):
            raise ValueError(
                f"{out_dir}: was generated from a different spec (sha256 {meta.get('spec_sha256', '?')[:12]}...); "
                "resume only with the identical spec, or choose a new output directory"
            )
        meta.setdefault("runs", []).append(run)
    else:
        meta = {
            "format": store.FORMAT_TAG,
            "name": spec.name,
            "description": spec.description,
            "units": INTERNAL_UNITS,
            "spec": spec.raw,
            "spec_sha256": spec_hash(spec),
            "label": {
                "program": "tblite",
                "method": spec.label.method,
                "accuracy": spec.label.accuracy,
                "electronic_temperature_K": spec.label.electronic_temperature,
                "max_iter": spec.label.max_iter,
                "positions_rounded_to": "float32 before labelling",
            },
            "molecules": molecule_table(spec),
            "n_tasks": len(tasks),
            "planned_structures": sum(t.n_structures for t in tasks),
            "created": run["started"],
            "runs": [run],
        }
    store.write_json_atomic(path, meta)
    return meta


def _worker_init() -> None:
    os.environ["OMP_NUM_THREADS"] = "1"


def _worker(args) -> Dict:
    """Run one task and store its chunk. A task that raises is reported, not fatal: it has no
    chunk, so the next run retries it."""
    spec, out_dir, task = args  # the spec as read at the start (edits to the file during a run do not count)
    try:
        frames, info = run_task(spec, task)
    except Exception as exc:  # noqa: BLE001 - any failure of one molecule must not stop the others
        return {"task_id": task.task_id, "n": 0, "failures": 0, "error": f"{type(exc).__name__}: {exc}"}
    store.write_chunk(out_dir, task.task_id, frames, info)
    return {"task_id": task.task_id, "n": len(frames), "failures": info["scf_failures"]}


def generate(
    spec_path: str,
    out_dir: Optional[str] = None,
    workers: int = 1,
    max_tasks: Optional[int] = None,
    progress: bool = True,
    finalize_when_done: bool = True,
    log=print,
) -> Dict:
    """Generate (or resume) the dataset of ``spec_path`` into ``out_dir`` (default: ``data/<name>/``
    beside the ``specs/`` folder holding the spec). Runs at most ``max_tasks`` new tasks.
    Returns a summary dict (tasks done/pending, structures, seconds)."""
    os.environ["OMP_NUM_THREADS"] = "1"  # workers start with it (one tblite thread: labels do not depend on it)
    spec = load_spec(spec_path)
    # every molecule's charge and spin (and X-H bonds, for stretch and contact sampling) checked before
    # anything is written: otherwise each of its tasks fails alike, on every run
    needs_xh = [s.kind for s in spec.sampling if s.kind in ("stretch", "contact")]
    for m in spec.molecules + (spec.dimers.monomers if spec.is_dimer else []):
        mol = check_charge_and_spin(m.name, m.smiles, m.charge, m.uhf)
        if needs_xh and not any(a.GetAtomicNum() == 1 and any(n.GetAtomicNum() != 1 for n in a.GetNeighbors())
                                for a in mol.GetAtoms()):
            raise ValueError(f"molecule {m.name!r} has no X-H bond, which the spec's {needs_xh[0]} sampling moves; "
                             f"drop the molecule or that step")
    if out_dir is None:
        spec_dir = os.path.dirname(os.path.abspath(spec_path))
        base = os.path.dirname(spec_dir) if os.path.basename(spec_dir) == "specs" else spec_dir
        out_dir = os.path.join(base, spec.name)
    os.makedirs(os.path.join(out_dir, store.CHUNK_DIR), exist_ok=True)
    removed = store.remove_stale_tmp(out_dir)
    tasks = plan_tasks(spec)
    _init_meta(spec, out_dir, tasks, workers)
    done = set(store.done_task_ids(out_dir))
    pending = [t for t in tasks if t.task_id not in done]
    if max_tasks is not None:
        pending = pending[: max(0, int(max_tasks))]
    done_structures = sum(t.n_structures for t in tasks if t.task_id in done)
    total = sum(t.n_structures for t in tasks)
    log(
        f"[{spec.name}] {len(tasks)} tasks ({total} structures planned), {len(done)} done, "
        f"running {len(pending)} with {workers} worker(s) -> {out_dir}"
        + (f" (removed {removed} partial file(s) of an interrupted run)" if removed else "")
    )
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, initial=done_structures, unit="struct", dynamic_ncols=True, desc=spec.name, file=sys.stderr)
    t0 = time.perf_counter()
    produced = failures = 0
    errors: List[str] = []
    jobs = [(spec, out_dir, t) for t in pending]

    def account(res: Dict) -> None:
        nonlocal produced, failures
        produced, failures = produced + res["n"], failures + res["failures"]
        if "error" in res:
            errors.append(f"task {res['task_id']}: {res['error']}")
            log(f"[{spec.name}] task {res['task_id']} failed (will be retried by the next run): {res['error']}")
        if bar is not None:
            bar.update(res["n"])

    try:
        if workers <= 1:
            for res in map(_worker, jobs):
                account(res)
        else:
            ctx = multiprocessing.get_context("spawn")
            with ctx.Pool(workers, initializer=_worker_init) as pool:
                for res in pool.imap_unordered(_worker, jobs, chunksize=1):
                    account(res)
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - t0
    remaining = len(tasks) - len(store.done_task_ids(out_dir))
    summary = {
        "out_dir": out_dir,
        "tasks_total": len(tasks),
        "tasks_remaining": remaining,
        "structures_this_run": produced,
        "scf_failures_this_run": failures,
        "failed_tasks_this_run": len(errors),
        "seconds": round(seconds, 1),
        "structures_per_second": round(produced / seconds, 3) if seconds > 0 else None,
    }
    log(f"[{spec.name}] " + ", ".join(f"{k}={v}" for k, v in summary.items()))
    if remaining == 0 and finalize_when_done:
        finalize(out_dir, log=log)
    return summary


def finalize(out_dir: str, spot_check: bool = True, log=print) -> Dict:
    """Store statistics (and a force spot check) of the data present in ``out_dir`` in its meta.json."""
    from openmm_range.data.dataset import AtomsDataset
    from openmm_range.data.generate.spotcheck import spot_check_forces

    meta = store.read_meta(out_dir)
    ds = AtomsDataset(store.load_dataset_dir(out_dir))
    meta["stats"] = ds.stats
    meta["content_hash"] = ds.content_hash
    meta["n_structures"] = len(ds)
    meta["finalized"] = _now()
    if spot_check:
        cfg = meta.get("spec", {}).get("spot_check", {}) or {}
        label = meta["label"]
        meta["spot_check"] = spot_check_forces(
            ds.frames,
            n_structures=int(cfg.get("structures", 3)),
            n_components=int(cfg.get("components", 6)),
            step=float(cfg.get("step", 0.002)),
            n_relabel=int(cfg.get("relabel", 20)),
            method=label["method"],
            accuracy=label["accuracy"],
            electronic_temperature=label["electronic_temperature_K"],
            max_iter=int(label.get("max_iter", 250)),
            seed=0,
        )
        log(f"spot check: {json.dumps(meta['spot_check']['summary'])}")
    store.write_json_atomic(os.path.join(out_dir, store.META_FILE), meta)
    return meta
