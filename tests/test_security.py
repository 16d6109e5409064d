"""Crafted pickle files are refused by every loading path, and the code in them never runs.

Each crafted file is a real ``torch.save`` zip whose pickle calls ``exec`` on a line that
creates a marker file. torch.load without ``weights_only=True`` would run it. The tests set
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``, which makes torch.load unpickle everything unless
the call passes ``weights_only=True`` itself: removing that argument from a loader (or
setting it to False) makes these tests fail, because the marker then appears.

Paths covered: openmm_range.load_model, openmm_range.serialization.read_metadata,
openmm-ml's ``MLPotential('range-schnet', modelPath=...)`` + createSystem,
``openmm-range train CONFIG --resume`` (the real CLI, in a child process), and a
PythonForce read back from System XML whose model bytes were crafted.
"""
import json
import os
import pickletools
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import openmm
import openmm.app as app
import pytest
import torch
from openmmml import MLPotential

import openmm_range
from openmm_range.data.frames import Frames
from openmm_range.data.store import save_frames
from openmm_range.openmm.pythonforce_backend import RangeComputation, build_python_force
from openmm_range.serialization import FORMAT, FORMAT_VERSION, model_metadata, read_metadata
from openmm_range.training.config import TrainConfig
from openmm_range.training.trainer import CHECKPOINT, build_model, load_data, param_groups

from helpers import small_model

UNSAFE = {"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}
WATER = np.array([[0.0, 0.0, 0.0], [0.957, 0.0, 0.0], [-0.240, 0.927, 0.0]])  # Å


class Payload:
    """Pickles as ``exec("open(marker, 'w').close()")``: unpickling it creates ``marker``."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').close()",)


@pytest.fixture(autouse=True)
def unsafe_torch_default(monkeypatch):
    """torch.load unpickles arbitrary objects unless a call passes weights_only=True itself."""
    for key, value in UNSAFE.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def marker(tmp_path):
    return tmp_path / "payload-ran"


def crafted_model_files(directory: Path, marker: Path):
    """Two crafted files: the bare payload, and a complete range-schnet model file (the exact
    save_model layout, real weights and metadata) with the payload in one extra entry: with
    weights_only=False every loader would accept the second one."""
    bare = directory / "bare.pt"
    torch.save(Payload(marker), bare)
    model = small_model("range-schnet", elements=(1, 8))
    model_like = directory / "model_like.pt"
    torch.save({"format": FORMAT, "format_version": FORMAT_VERSION,
                "metadata": json.dumps(model_metadata(model), sort_keys=True),
                "state_dict": {k: v.detach().clone() for k, v in model.state_dict().items()},
                "notes": Payload(marker)}, model_like)
    assert not marker.exists()
    return {"bare": bare, "model_like": model_like}


def water_topology():
    top = app.Topology()
    residue = top.addResidue("HOH", top.addChain())
    for name, element in (("O", app.element.oxygen), ("H1", app.element.hydrogen), ("H2", app.element.hydrogen)):
        top.addAtom(name, element, residue)
    return top


def refusal(load, arg, errors=ValueError):
    """The message of the error ``load(arg)`` raises, or None if it accepts ``arg``."""
    try:
        load(arg)
    except errors as exc:
        return str(exc)
    return None


def assert_refused(message: str, path, accepted: str):
    """The project's refusal: names the file, says it was not run, and what is accepted."""
    assert str(path) in message
    assert "pickled Python objects" in message and "nothing in it was run" in message
    assert "exec" in message  # the object it referred to
    assert accepted in message
    assert "weights_only` set to `False`" not in message  # torch's advice to load it unsafely is not passed on


LOADERS = {
    "load_model": openmm_range.load_model,
    "read_metadata": read_metadata,
    "MLPotential": lambda path: MLPotential("range-schnet", modelPath=str(path)).createSystem(water_topology()),
}


@pytest.mark.parametrize("kind", ["bare", "model_like"])
@pytest.mark.parametrize("loader", list(LOADERS))
def test_crafted_model_file_is_refused_and_never_run(tmp_path, marker, kind, loader):
    path = crafted_model_files(tmp_path, marker)[kind]
    message = refusal(LOADERS[loader], path)
    assert not marker.exists(), f"{loader} ran the code in {kind}.pt"
    assert message is not None, f"{loader} accepted {kind}.pt"
    assert_refused(message, path, "only files written by openmm_range.save_model")


def pickled_globals(data: bytes):
    """(the module.name of every global a pickle refers to, the names of all its opcodes)."""
    strings, names, opcodes = [], [], []
    for op, arg, _ in pickletools.genops(data):
        opcodes.append(op.name)
        if isinstance(arg, str) and "UNICODE" in op.name:
            strings.append(arg)
        elif op.name == "STACK_GLOBAL":
            names.append(".".join(strings[-2:]))
        elif op.name in ("GLOBAL", "INST"):
            names.append(arg.replace(" ", "."))
    return names, opcodes


def test_crafted_model_bytes_in_a_pythonforce_from_xml_are_refused(tmp_path, marker):
    """A System XML whose RANGE PythonForce carries crafted model bytes: OpenMM unpickles the
    force's RangeComputation (plain data), which re-reads the bytes with weights_only=True on
    first evaluation, so the crafted model is refused there and never run."""
    evil = crafted_model_files(tmp_path, marker)["model_like"].read_bytes()
    system = openmm.System()
    for mass in (16.0, 1.0, 1.0):
        system.addParticle(mass)
    system.addForce(build_python_force(RangeComputation(evil, [8, 1, 1], False, "float64", "cpu"), [0, 1, 2],
                                       False, 0))
    xml = openmm.XmlSerializer.serialize(system)
    # What OpenMM stores (hex in the force's "function" attribute) names one class and calls nothing.
    names, opcodes = pickled_globals(bytes.fromhex(re.search(r'function="([0-9a-f]+)"', xml).group(1)))
    assert names == ["openmm_range.openmm.pythonforce_backend.RangeComputation"] and "REDUCE" not in opcodes
    restored = openmm.XmlSerializer.deserialize(xml)
    assert not marker.exists()
    context = openmm.Context(restored, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference"))
    context.setPositions(WATER * 0.1)
    message = refusal(lambda c: c.getState(getEnergy=True), context, errors=openmm.OpenMMException)
    assert not marker.exists(), "the PythonForce ran the code in the crafted model bytes"
    assert message is not None, "the PythonForce accepted the crafted model bytes"
    assert_refused(message, "the model bytes held by the RANGE PythonForce",
                   "only files written by openmm_range.save_model")


# --- training checkpoints -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    """12 displaced water molecules with made-up labels (the crafted checkpoints are refused before training)."""
    rng = np.random.default_rng(0)
    n = 12
    pos = np.concatenate([WATER + rng.normal(scale=0.05, size=WATER.shape) for _ in range(n)])
    frames = Frames(z=np.tile([8, 1, 1], n).astype(np.int64), pos=pos, energy=rng.normal(size=n),
                    forces=rng.normal(size=pos.shape), n_atoms=np.full(n, 3, dtype=np.int64),
                    mol_id=np.zeros(n, dtype=np.int64), charge=np.zeros(n, dtype=np.int64),
                    spin=np.zeros(n, dtype=np.int64), molecules=["O"], source="security-test")
    path = tmp_path_factory.mktemp("data") / "water.npz"
    save_frames(frames, str(path))
    return path


def crafted_checkpoint(config: TrainConfig, marker: Path, kind: str) -> dict:
    """A checkpoint with every entry the trainer writes (the real model, optimiser, RNG and data
    hash of this config), plus the payload; or, for ``bare``, the payload alone."""
    if kind == "bare":
        return Payload(marker)
    full, (train_set, _, _), _ = load_data(config)
    model = build_model(config, train_set)
    optimizer = torch.optim.AdamW(param_groups(model, config), lr=config.lr)
    state = model.state_dict()
    return {"epoch": 0, "model": state, "optimizer": optimizer.state_dict(), "rng": torch.get_rng_state(),
            "best": 1.0, "best_epoch": 0, "best_model": state, "history": json.dumps([]),
            "config": config.to_json(), "wall_s": 0.0, "data_hash": full.content_hash, "notes": Payload(marker)}


@pytest.mark.parametrize("kind", ["bare", "checkpoint_like"])
def test_crafted_checkpoint_is_refused_by_train_resume(tmp_path, marker, tiny_dataset, kind):
    run_dir = tmp_path / "run"
    cfg = {"data": [str(tiny_dataset)], "model": "range-schnet", "out_dir": str(run_dir), "epochs": 2,
           "batch_size": 4, "split": [0.5, 0.25, 0.25], "dtype": "float64", "threads": 1,
           "hyperparameters": {"hidden_channels": 16, "num_interactions": 1, "num_heads": 4, "readout_layers": [16]}}
    cfg_path = tmp_path / "cfg.yaml"
    cfg_path.write_text(json.dumps(cfg))  # JSON is valid YAML
    ckpt_path = run_dir / CHECKPOINT
    run_dir.mkdir()
    torch.save(crafted_checkpoint(TrainConfig.from_dict(cfg), marker, kind), ckpt_path)
    written = ckpt_path.read_bytes()
    assert not marker.exists()
    res = subprocess.run([sys.executable, "-m", "openmm_range.cli.main", "train", str(cfg_path), "--resume"],
                         capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, OMP_NUM_THREADS="1", **UNSAFE))
    assert not marker.exists(), f"train --resume ran the code in the crafted checkpoint ({kind})"
    assert res.returncode == 2, res.stdout + res.stderr
    assert res.stderr.startswith("openmm-range train: error: "), res.stderr
    assert_refused(res.stderr, ckpt_path, "only checkpoints written by `openmm-range train`")
    assert ckpt_path.read_bytes() == written  # refused before training could overwrite it
