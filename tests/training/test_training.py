"""Training on a tiny real GFN2-xTB dataset: loss decreases, kill+resume is exact, DDP == one process."""
import csv
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from openmm_range.data.frames import Frames
from openmm_range.data.generate.potentials import XTBPotential
from openmm_range.data.store import save_frames

METHANOL = np.array([[0.000, 0.000, 0.000], [1.420, 0.000, 0.000], [-0.360, 1.030, 0.000],
                     [-0.360, -0.515, 0.892], [-0.360, -0.515, -0.892], [1.740, 0.900, 0.000]])
WATER = np.array([[0.0, 0.0, 0.0], [0.957, 0.0, 0.0], [-0.240, 0.927, 0.0]])
MOLECULES = [("CO", [6, 8, 1, 1, 1, 1], METHANOL), ("O", [8, 1, 1], WATER)]


@pytest.fixture(scope="module")
def dataset_path(tmp_path_factory):
    """24 randomly displaced methanol and water structures labelled with tblite GFN2-xTB."""
    rng = np.random.default_rng(0)
    z, pos, energy, forces, n_atoms, mol_id = [], [], [], [], [], []
    for k in range(24):
        m = k % 2
        _, numbers, ref = MOLECULES[m]
        calc = XTBPotential(np.array(numbers))
        x = ref + rng.normal(scale=0.06, size=ref.shape)
        e, f = calc(x)
        z.append(numbers), pos.append(x), energy.append(e), forces.append(f), n_atoms.append(len(numbers)), mol_id.append(m)
    frames = Frames(z=np.concatenate(z).astype(np.int64), pos=np.concatenate(pos), energy=np.array(energy),
                    forces=np.concatenate(forces), n_atoms=np.array(n_atoms, dtype=np.int64),
                    mol_id=np.array(mol_id, dtype=np.int64), charge=np.zeros(24, dtype=np.int64),
                    spin=np.zeros(24, dtype=np.int64), molecules=[m[0] for m in MOLECULES], source="tiny-xtb")
    path = tmp_path_factory.mktemp("data") / "tiny.npz"
    save_frames(frames, str(path))
    return path


def config(dataset_path, out_dir, **extra):
    base = {"data": [str(dataset_path)], "model": "range-schnet", "out_dir": str(out_dir), "epochs": 4,
            "batch_size": 6, "lr": 3e-3, "split": [0.5, 0.25, 0.25], "dtype": "float64", "threads": 1,
            "hyperparameters": {"hidden_channels": 16, "num_interactions": 2, "num_heads": 4, "readout_layers": [16]}}
    base.update(extra)
    return base


def cli(args, **kwargs):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "openmm_range.cli.main"] + args, env=env, **kwargs)


def write_config(path, cfg):
    path.write_text(json.dumps(cfg))  # JSON is valid YAML
    return str(path)


def final_state(out_dir):
    return torch.load(Path(out_dir) / "checkpoint.pt", weights_only=True)["model"]


def test_training_reduces_loss_and_writes_outputs(dataset_path, tmp_path, capsys):
    from openmm_range.training import TrainConfig, train

    out = tmp_path / "run"
    summary = train(TrainConfig.from_dict(config(dataset_path, out, epochs=10, lr=1e-2, batch_size=3)), log=lambda *_: None)
    history = [json.loads(json.dumps(r)) for r in __import__("csv").DictReader(open(out / "metrics.csv"))]
    assert len(history) == 10
    assert float(history[-1]["train_loss"]) < 0.5 * float(history[0]["train_loss"])
    assert summary["best_val_force_mae_mev_a"] < float(history[0]["val_force_mae_mev_a"])
    for name in ("best_model.pt", "learning_curves.png", "parity_test.png", "summary.json", "split.json"):
        assert (out / name).exists(), name
    import openmm_range
    meta = openmm_range.read_metadata(out / "best_model.pt")
    assert meta["training_data_hash"] and (meta["n_min"], meta["n_max"]) == (3, 6)
    assert meta["elements"] == [1, 6, 8]
    assert meta["charges"] == [0]  # the molecular charges seen in training: neutral only

    # evaluate and publish the run through the CLI
    env = dict(os.environ, OMP_NUM_THREADS="1")
    res = subprocess.run([sys.executable, "-m", "openmm_range.cli.main", "evaluate", str(out / "best_model.pt"),
                          str(dataset_path), "--splits", str(out / "split.json"), "--out", str(tmp_path / "eval.json")],
                         capture_output=True, text=True, env=env, check=True)
    results = json.loads((tmp_path / "eval.json").read_text())
    assert set(results) == {"train", "val", "test"} and "| test |" in res.stdout
    assert results["val"]["all"]["force_mae_mev_a"] == pytest.approx(summary["best_val_force_mae_mev_a"], rel=1e-6)
    assert set(results["train"]["per_element"]) == {"H", "C", "O"}
    assert set(results["train"]["per_size"]) == {"1-10"}
    subprocess.run([sys.executable, "-m", "openmm_range.cli.main", "publish", str(out), "--name", "tiny",
                    "--out-dir", str(tmp_path / "shipped")], capture_output=True, text=True, env=env, check=True)
    card = (tmp_path / "shipped" / "tiny.md").read_text()
    assert meta["training_data_hash"] in card and "force MAE" in card and "N_min / N_max (atoms): 3 / 6" in card
    assert openmm_range.read_metadata(tmp_path / "shipped" / "tiny.pt")["test_metrics"]["structures"] == 6
    # the card carries the learning curve (the run's figure, beside the model) and the convergence
    # gain of the validation history; a name that is not a potential name is loaded by modelPath
    assert (tmp_path / "shipped" / "tiny_learning_curves.png").read_bytes() == (out / "learning_curves.png").read_bytes()
    assert "![learning curves](tiny_learning_curves.png)" in card
    val = [float(r["val_force_mae_mev_a"]) for r in history]
    gain = 100 * (min(val[:8]) - min(val)) / min(val[:8])
    assert f"{gain:.2f} % over the last 20 % of the 10 epochs" in card
    assert f"MLPotential('range-schnet', modelPath='{(tmp_path / 'shipped' / 'tiny.pt').as_posix()}')" in card
    assert "step schedules" in card and "charge` (openmm-ml's argument) other than 0 is refused" in card
    assert "attend within each molecule" in card
    import shutil

    from openmm_range.cli.main import main

    # --card-only rewrites the card of the published model, also after its run directory moved,
    # and leaves the model file as it is
    shipped_model = (tmp_path / "shipped" / "tiny.pt").read_bytes()
    (tmp_path / "shipped" / "tiny.md").write_text("stale card\n")
    note = tmp_path / "note.md"
    note.write_text("## Quality bars\n\nnew bar table\n")
    moved = tmp_path / "moved-run"
    shutil.copytree(out, moved)
    assert main(["publish", str(moved), "--name", "tiny", "--out-dir", str(tmp_path / "shipped"), "--card-only",
                 "--note", str(note)]) == 0
    refreshed = (tmp_path / "shipped" / "tiny.md").read_text()
    assert "new bar table" in refreshed and meta["training_data_hash"] in refreshed and "stale" not in refreshed
    assert (tmp_path / "shipped" / "tiny.pt").read_bytes() == shipped_model
    # ... and refuses a run whose best model is not the published one: its summary names another
    # epoch, or another validation error at the same epoch
    original = json.loads((moved / "summary.json").read_text())
    for key, change in (("best_epoch", 1), ("best_val_force_mae_mev_a", 1e-9)):
        (moved / "summary.json").write_text(json.dumps({**original, key: original[key] + change}))
        capsys.readouterr()
        assert main(["publish", str(moved), "--name", "tiny", "--out-dir", str(tmp_path / "shipped"),
                     "--card-only"]) == 2, key
        assert "is not the best model of run" in capsys.readouterr().err
    assert "new bar table" in (tmp_path / "shipped" / "tiny.md").read_text()
    # publishing never replaces another run's model unasked, nor ships a model under the potential
    # name of another architecture (MLPotential('painn') would then refuse it)
    from openmm_range.training.model_card import publish as publish_run

    with pytest.raises(ValueError, match="already holds a model published from another run: give --replace"):
        publish_run(str(moved), "tiny", str(tmp_path / "shipped"))
    assert (tmp_path / "shipped" / "tiny.pt").read_bytes() == shipped_model
    capsys.readouterr()
    assert main(["publish", str(out), "--name", "painn", "--out-dir", str(tmp_path / "shipped")]) == 2
    assert "is the potential name of a 'painn' model" in capsys.readouterr().err
    from openmm_range.training.trainer import _lock_run_dir

    held = _lock_run_dir(out)  # a trainer still writing the run is refused
    capsys.readouterr()
    assert main(["publish", str(out), "--name", "tiny", "--out-dir", str(tmp_path / "again")]) == 2
    assert "still writing" in capsys.readouterr().err
    held.close()
    # a best_model.pt that is not the one the summary describes (here: an earlier epoch's) is refused
    stale = openmm_range.load_model(out / "best_model.pt")
    stale.metadata["training"]["epochs_run"] -= 1
    openmm_range.save_model(stale, out / "best_model.pt")
    capsys.readouterr()
    assert main(["publish", str(out), "--name", "tiny", "--out-dir", str(tmp_path / "again")]) == 2
    assert "is not this run's best model" in capsys.readouterr().err and not (tmp_path / "again").exists()
    shutil.move(out / "best_model.pt", tmp_path / "away.pt")
    assert main(["publish", str(out), "--name", "tiny", "--out-dir", str(tmp_path / "again")]) == 2
    assert "best_model.pt does not exist" in capsys.readouterr().err


def test_kill_and_resume_is_bit_for_bit(dataset_path, tmp_path):
    cfg_path = write_config(tmp_path / "cfg.yaml", config(dataset_path, tmp_path / "a", epochs=5))
    subprocess.run([sys.executable, "-m", "openmm_range.cli.main", "train", cfg_path], check=True,
                   capture_output=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    cfg_b = write_config(tmp_path / "cfg_b.yaml", config(dataset_path, tmp_path / "b", epochs=5))
    proc = cli(["train", cfg_b], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    metrics = tmp_path / "b" / "metrics.csv"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if metrics.exists() and len(metrics.read_text().splitlines()) >= 3:  # header + 2 epochs
            proc.kill()
            break
        time.sleep(0.05)
    proc.wait()
    assert proc.returncode != 0, "the run finished before it could be interrupted"
    done = len((tmp_path / "b" / "metrics.csv").read_text().splitlines()) - 1
    assert 2 <= done < 5
    split = (tmp_path / "b" / "split.json").read_bytes()
    assert split.count(b"\n") == 1  # one compact line: committed with unfinished runs
    subprocess.run([sys.executable, "-m", "openmm_range.cli.main", "train", cfg_b, "--resume"], check=True,
                   capture_output=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert (tmp_path / "b" / "split.json").read_bytes() == split  # a resume leaves the committed file as it was
    a, b = final_state(tmp_path / "a"), final_state(tmp_path / "b")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.parametrize("loss, batch_size", [("paper", 6), ("per-atom", 11)])
def test_ddp_two_processes_equal_one_process(dataset_path, tmp_path, loss, batch_size):
    """Also with the per-atom loss, whose means the two processes' shares (unequal in molecules
    and atoms: methanol and water) must add up to, and with a last batch of one structure, which
    leaves the second process no share (12 training structures in batches of 11)."""
    options = dict(epochs=2, loss=loss, batch_size=batch_size)
    one = write_config(tmp_path / "one.yaml", config(dataset_path, tmp_path / "one", **options))
    two = write_config(tmp_path / "two.yaml", config(dataset_path, tmp_path / "two", **options))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    subprocess.run([sys.executable, "-m", "openmm_range.cli.main", "train", one], check=True, capture_output=True, env=env)
    res = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29517",
                          "-m", "openmm_range.cli.main", "train", two], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    a, b = final_state(tmp_path / "one"), final_state(tmp_path / "two")
    for k in a:
        # float64; the only difference is the summation order of the gradient (rank sums then
        # all-reduce), which Adam turns into ~1e-11 differences on near-zero gradients.
        torch.testing.assert_close(b[k], a[k], rtol=1e-8, atol=1e-9, msg=k)
    rows = [list(csv.DictReader(open(tmp_path / run / "metrics.csv"))) for run in ("one", "two")]
    for key in ("train_force_mae_mev_a", "val_force_mae_mev_a"):  # the whole batches' errors, not one share's
        assert [float(r[key]) for r in rows[1]] == pytest.approx([float(r[key]) for r in rows[0]], rel=1e-6), key


def test_two_trainers_cannot_share_a_run_directory(dataset_path, tmp_path):
    from openmm_range.training.trainer import _lock_run_dir

    held = _lock_run_dir(tmp_path)
    res = subprocess.run([sys.executable, "-m", "openmm_range.cli.main", "train",
                          write_config(tmp_path / "c.yaml", config(dataset_path, tmp_path, epochs=1))],
                         capture_output=True, text=True)
    held.close()
    assert res.returncode == 2 and "another training process is using" in res.stderr


def test_per_dataset_subsample_and_test_metrics_per_dataset(dataset_path, tmp_path):
    """``max_structures`` as a list draws that many structures from each dataset (0 = all of it);
    the summary then reports test metrics for each dataset's share of the test split."""
    from openmm_range.training import TrainConfig, train
    from openmm_range.training.trainer import load_data

    other = tmp_path / "copy.npz"
    other.write_bytes(Path(dataset_path).read_bytes())
    cfg = TrainConfig.from_dict(config(dataset_path, tmp_path / "run", epochs=1, data=[str(dataset_path), str(other)],
                                       max_structures=[10, 0]))
    full, (train_set, val_set, test_set), spans = load_data(cfg)
    assert len(full) == 10 + 24
    assert spans == [(str(dataset_path), 0, 10), (str(other), 10, 34)]
    assert len(train_set) + len(val_set) + len(test_set) == 34
    summary = train(cfg, log=lambda *a: None)
    per = summary["test_per_dataset"]
    idx = test_set.parent_indices
    assert {k: v["all"]["structures"] for k, v in per.items()} == {
        p: int(((idx >= lo) & (idx < hi)).sum()) for p, lo, hi in spans if ((idx >= lo) & (idx < hi)).any()}
    assert sum(v["all"]["structures"] for v in per.values()) == summary["test"]["all"]["structures"]
    from openmm_range.training.model_card import publish

    publish(str(tmp_path / "run"), "tiny", str(tmp_path / "shipped"), summary["test"])
    card = (tmp_path / "shipped" / "tiny.md").read_text()
    assert f"random subsample: 10 of {dataset_path}, all of {other}" in card
    for path, m in per.items():
        assert f"| {path} | {m['all']['structures']} | {m['all']['energy_mae_mev']:.2f} |" in card

    # evaluate: a subsampled run's split.json does not index the whole datasets; --run rebuilds its parts
    from openmm_range.cli.main import main

    model = str(tmp_path / "run" / "best_model.pt")
    assert main(["evaluate", model, str(dataset_path), str(other), "--splits", str(tmp_path / "run" / "split.json")]) == 2
    assert main(["evaluate", model, "--run", str(tmp_path / "run"), "--out", str(tmp_path / "eval.json")]) == 0
    results = json.loads((tmp_path / "eval.json").read_text())
    assert results["test"]["all"]["structures"] == len(test_set)
    assert results["test"]["all"]["force_mae_mev_a"] == pytest.approx(summary["test"]["all"]["force_mae_mev_a"],
                                                                       rel=1e-6)
    # --out into a folder not made yet is made; a folder as --out, or a split file that is no JSON, is
    # refused before the evaluation runs
    assert main(["evaluate", model, "--run", str(tmp_path / "run"), "--out", str(tmp_path / "new" / "e.json")]) == 0
    assert json.loads((tmp_path / "new" / "e.json").read_text()) == results
    assert main(["evaluate", model, "--run", str(tmp_path / "run"), "--out", str(tmp_path)]) == 2
    (tmp_path / "broken.json").write_text("{\"train\": [1, 2")
    assert main(["evaluate", model, str(dataset_path), "--splits", str(tmp_path / "broken.json")]) == 2
    for indices in ("[null]", "[-1]", "[1.5]", "[true]"):  # each an index no split.json holds
        (tmp_path / "broken.json").write_text(f'{{"train": [0], "test": {indices}}}')
        assert main(["evaluate", model, str(dataset_path), "--splits", str(tmp_path / "broken.json")]) == 2, indices

    for bad in ([10], [10, -1]):
        with pytest.raises(ValueError, match="one whole count per dataset"):
            TrainConfig.from_dict(config(dataset_path, tmp_path / "x", data=[str(dataset_path), str(other)],
                                         max_structures=bad))


def test_dimers_train_with_their_molecules_and_charges(tmp_path):
    """A dimer set trains with two molecules per structure: the model stores the molecule sizes
    (not the dimer's) for Lambda(n), and the molecular charges it saw."""
    from openmm_range.training import TrainConfig, train

    rng = np.random.default_rng(1)
    z, pos, energy, forces = [], [], [], []
    for k in range(12):
        a = WATER + rng.normal(scale=0.05, size=WATER.shape)
        b = METHANOL + rng.normal(scale=0.05, size=METHANOL.shape) + [4.0 + k, 0.0, 0.0]
        numbers = np.array([8, 1, 1, 6, 8, 1, 1, 1, 1])
        e, f = XTBPotential(numbers)(np.concatenate([a, b]))
        z.append(numbers), pos.append(np.concatenate([a, b])), energy.append(e), forces.append(f)
    frames = Frames(z=np.concatenate(z), pos=np.concatenate(pos), energy=np.array(energy), forces=np.concatenate(forces),
                    n_atoms=np.full(12, 9), mol_id=np.zeros(12, dtype=np.int64), charge=np.zeros(12, dtype=np.int64),
                    spin=np.zeros(12, dtype=np.int64), molecules=["water+methanol"], source="tiny-dimers",
                    fragment=np.tile([0, 0, 0, 1, 1, 1, 1, 1, 1], 12), fragment_charge=np.zeros(108, dtype=np.int64))
    path = tmp_path / "dimers.npz"
    save_frames(frames, str(path))
    out = tmp_path / "run"
    train(TrainConfig.from_dict(config(path, out, epochs=2)), log=lambda *_: None)
    import openmm_range
    meta = openmm_range.read_metadata(out / "best_model.pt")
    assert (meta["n_min"], meta["n_max"]) == (3, 6) and meta["charges"] == [0]
    assert meta["hyperparameters"]["range_scope"] == "molecule"
    assert meta["hyperparameters"]["long_range"] == "coulomb-dispersion"


def test_cosine_schedule_with_warmup():
    from openmm_range.training import TrainConfig
    from openmm_range.training.trainer import learning_rate

    cfg = TrainConfig(data=["x"], epochs=10, lr=1e-3, schedule="cosine", warmup_epochs=1.0, lr_min_factor=0.1)
    assert learning_rate(cfg, 0.5, 1) == pytest.approx(0.5e-3, rel=1e-2)  # linear warm-up
    assert learning_rate(cfg, 1.0, 1) == pytest.approx(1e-3)  # peak after the warm-up
    assert learning_rate(cfg, 5.5, 1) == pytest.approx(0.55e-3)  # half way down the cosine
    assert learning_rate(cfg, 10.0, 1) == pytest.approx(1e-4)  # lr_min_factor at the end
    with pytest.raises(ValueError, match="schedule must be one of"):
        TrainConfig(data=["x"], schedule="linear")


def test_new_recipe_resumes_bit_for_bit(dataset_path, tmp_path):
    """Cosine schedule per step, EMA weights and the per-atom loss: an interrupted run resumed
    from its checkpoint ends exactly where an uninterrupted one does."""
    from openmm_range.training import TrainConfig, train

    recipe = dict(epochs=2, schedule="cosine", warmup_epochs=0.5, ema_decay=0.9, loss="per-atom",
                  energy_weight=1.0, force_weight=10.0)
    train(TrainConfig.from_dict(config(dataset_path, tmp_path / "straight", **recipe)), log=lambda *_: None)

    class Stop(Exception):
        pass

    def stop_at_epoch_two(message):
        if message.startswith("epoch 2:"):  # logged before epoch 2's checkpoint is written
            raise Stop

    with pytest.raises(Stop):
        train(TrainConfig.from_dict(config(dataset_path, tmp_path / "cut", **recipe)), log=stop_at_epoch_two)
    train(TrainConfig.from_dict(config(dataset_path, tmp_path / "cut", **recipe)), resume=True, log=lambda *_: None)
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=True)
    for key in ("model", "ema"):
        assert a[key].keys() == b[key].keys()
        assert all(torch.equal(a[key][k], b[key][k]) for k in a[key]), key
    assert not all(torch.equal(a["model"][k], a["ema"][k]) for k in a["model"])  # EMA differs from the weights
    # the best model is the averaged weights that were validated (here the last epoch's)
    assert a["best_epoch"] == 1
    assert all(torch.equal(a["best_model"][k], a["ema"][k]) for k in a["ema"])


def test_divergence_guard_undoes_a_spiking_epoch_at_half_the_learning_rate(dataset_path, tmp_path):
    """A step schedule multiplies the learning rate by 1000 after epoch 4: epoch 5's median batch
    loss jumps above 3x the lowest before it. With the guard (factor 3) the epoch is undone and
    redone at half the learning rate, which the metrics record; the redone epoch holds one batch
    whose loss is ~1e8 (its gradient clipped), and the guard, reading the median batch loss, lets
    it pass although the epoch's mean is far above 3x. With no halvings allowed the run stops with
    an error naming the last good state."""
    import csv

    from openmm_range.training import TrainConfig, train

    def rows(out):
        return list(csv.DictReader(open(out / "metrics.csv")))

    def median(out):
        return [float(r["train_loss_median"]) for r in rows(out)]

    jump = dict(epochs=6, batch_size=3, schedule="step", lr_gamma=1000.0, lr_step_network=4, lr_step_lambda=4)
    train(TrainConfig.from_dict(config(dataset_path, tmp_path / "off", divergence_factor=0, **jump)), log=lambda *_: None)
    off = median(tmp_path / "off")
    assert off[4] > 3 * min(off[:4])  # the spike the guard is for
    messages = []
    train(TrainConfig.from_dict(config(dataset_path, tmp_path / "on", divergence_factor=3, **jump)), log=messages.append)
    on, on_rows = median(tmp_path / "on"), rows(tmp_path / "on")
    assert on[:4] == off[:4]  # nothing changes before the spike
    assert sum(m.startswith("epoch 5 diverged") for m in messages) == 1
    assert [float(r["lr_scale"]) for r in on_rows] == [1.0] * 4 + [0.5] * 2
    assert on[4] <= 3 * min(on[:4]) < off[4] and len(on) == 6
    mean = [float(r["train_loss"]) for r in on_rows]
    assert mean[4] > 1000 * min(mean[:4])  # one outlier batch: the mean would have tripped the guard
    assert any(m.startswith("epoch 5: batch") and "had loss" in m for m in messages)  # and the log names it
    assert torch.load(tmp_path / "on" / "checkpoint.pt", weights_only=True)["lr_scale"] == 0.5
    from openmm_range.training.model_card import publish  # the model card says so; a run without a halving does not

    for run in ("on", "off"):
        publish(str(tmp_path / run), run, str(tmp_path / "cards"))
    assert "learning rate was first halved in epoch 5; its scale at the last epoch: x0.5" in (
        tmp_path / "cards" / "on.md").read_text()
    assert "divergence guard" not in (tmp_path / "cards" / "off.md").read_text()
    from openmm_range.training.trainer import TrainingDiverged

    with pytest.raises(TrainingDiverged, match="training diverged in epoch 5"):
        train(TrainConfig.from_dict(config(dataset_path, tmp_path / "stop", divergence_factor=3, max_lr_halvings=0,
                                           **jump)), log=lambda *_: None)


def test_the_guard_reads_the_median_batch_loss():
    from openmm_range.training.trainer import diverged

    history = [{"train_loss": 0.06, "train_loss_median": 0.03}]
    assert not diverged(0.035, history, 3.0)  # one outlier batch lifts the mean, not the median
    assert diverged(0.2, history, 3.0)  # the typical batch got worse: a divergence
    assert diverged(0.035, history, 3.0, finite_weights=False) and diverged(math.nan, history, 3.0)
    assert not diverged(0.15, [{"train_loss": 0.06}], 3.0)  # older rows compare with their mean
    assert not diverged(1e9, [], 3.0) and not diverged(1e9, history, 0.0)  # first epoch; guard off
    # the first epoch has nothing to compare with, but NaN weights or loss are undone there too
    assert diverged(0.1, [], 3.0, finite_weights=False) and diverged(math.nan, [], 3.0)


def test_init_from_starts_a_run_from_a_model_file(dataset_path, tmp_path):
    """Fine-tuning: ``init_from`` loads a saved model's weights (per-element shifts included) in
    place of the random initialisation; a model of another architecture is refused by name."""
    import openmm_range
    from openmm_range.training import TrainConfig, train

    first = tmp_path / "first"
    train(TrainConfig.from_dict(config(dataset_path, first, epochs=2)), log=lambda *_: None)
    source = openmm_range.load_model(first / "best_model.pt")
    # with a zero learning rate (and no EMA) the fine-tuned run keeps exactly the weights it started from
    tuned = tmp_path / "tuned"
    messages = []
    train(TrainConfig.from_dict(config(dataset_path, tuned, epochs=1, lr=0.0, init_from=str(first / "best_model.pt"))),
          log=messages.append)
    assert any("initialised from" in m for m in messages)
    result = openmm_range.load_model(tuned / "best_model.pt").state_dict()
    for key, value in source.state_dict().items():
        assert torch.equal(result[key], value), key
    # without init_from the same config starts elsewhere
    fresh = tmp_path / "fresh"
    train(TrainConfig.from_dict(config(dataset_path, fresh, epochs=1, lr=0.0, seed=5)), log=lambda *_: None)
    other = openmm_range.load_model(fresh / "best_model.pt").state_dict()
    assert not all(torch.equal(other[k], v) for k, v in source.state_dict().items())

    wider = config(dataset_path, tmp_path / "wider", epochs=1, init_from=str(first / "best_model.pt"))
    wider["hyperparameters"] = dict(wider["hyperparameters"], hidden_channels=24)
    with pytest.raises(ValueError, match="hidden_channels 16 there, 24 here"):
        train(TrainConfig.from_dict(wider), log=lambda *_: None)
    # a setting that leaves every shape alone but changes what the weights mean
    shorter = config(dataset_path, tmp_path / "shorter", epochs=1, init_from=str(first / "best_model.pt"))
    shorter["hyperparameters"] = dict(shorter["hyperparameters"], cutoff=4.0)
    with pytest.raises(ValueError, match="cutoff 5.0 there, 4.0 here"):
        train(TrainConfig.from_dict(shorter), log=lambda *_: None)
    with pytest.raises(ValueError, match="a 'range-schnet' model cannot start a 'schnet' run"):
        train(TrainConfig.from_dict(config(dataset_path, tmp_path / "other", model="schnet", epochs=1,
                                           init_from=str(first / "best_model.pt"))), log=lambda *_: None)


def test_keep_split_keeps_an_earlier_runs_parts_when_data_are_added(dataset_path, tmp_path):
    """``keep_split``: the structures of the earlier run keep their train/val/test part (so its
    test structures stay out of training), the added dataset's structures are split anew."""
    from openmm_range.training import TrainConfig, train
    from openmm_range.training.trainer import load_data

    first = tmp_path / "first"
    train(TrainConfig.from_dict(config(dataset_path, first, epochs=1, max_structures=[0])), log=lambda *_: None)
    before = json.loads((first / "split.json").read_text())
    grown = config(dataset_path, tmp_path / "grown", epochs=1, data=[str(dataset_path), str(dataset_path)],
                   max_structures=[0, 0], keep_split=str(first), init_from=str(first / "best_model.pt"))
    full, parts, _ = load_data(TrainConfig.from_dict(grown))
    assert len(full) == 48
    for name, part in zip(("train", "val", "test"), parts):
        idx = part.parent_indices
        assert idx[idx < 24].tolist() == before[name]  # the earlier structures keep their part
        assert (idx >= 24).any()  # and the added ones are spread over every part
    assert sorted(np.concatenate([p.parent_indices for p in parts]).tolist()) == list(range(48))
    # without keep_split the grown data are split afresh: earlier test structures reach training
    _, fresh, _ = load_data(TrainConfig.from_dict(dict(grown, keep_split=None)))
    assert set(fresh[0].parent_indices.tolist()) & set(before["test"])
    with pytest.raises(ValueError, match="must be the first entries of this run's data"):
        load_data(TrainConfig.from_dict(dict(grown, seed=3)))
    with pytest.raises(ValueError, match="cannot be combined"):
        load_data(TrainConfig.from_dict(dict(grown, held_out_molecules=["water"])))


def test_keep_split_refuses_data_changed_since_the_earlier_run(dataset_path, tmp_path):
    """A dataset regenerated after the earlier run would move its saved indices onto other
    structures: the training-data hash in its best_model.pt shows it, and the split is refused."""
    import shutil

    from openmm_range.training import TrainConfig, train
    from openmm_range.training.trainer import load_data

    data = tmp_path / "data.npz"
    shutil.copy(dataset_path, data)
    first = tmp_path / "first"
    train(TrainConfig.from_dict(config(data, first, epochs=1, max_structures=[0])), log=lambda *_: None)
    grown = config(data, tmp_path / "grown", epochs=1, data=[str(data), str(dataset_path)], max_structures=[0, 0],
                   keep_split=str(first))
    assert len(load_data(TrainConfig.from_dict(grown))[0]) == 48  # unchanged data: accepted
    arrays = dict(np.load(data, allow_pickle=False))
    arrays["energy"] = arrays["energy"] + 0.1  # relabelled
    np.savez(data, **arrays)
    with pytest.raises(ValueError, match="its data have changed since that run"):
        load_data(TrainConfig.from_dict(grown))


def test_a_run_directory_is_never_overwritten_by_a_new_start(dataset_path, tmp_path):
    """A finished run is not trained again (``--resume`` has nothing to do; a plain start is
    refused), a run in progress is continued only with ``--resume``, and run files whose
    checkpoint is gone are refused rather than replaced. A best_model.pt lost after the last
    improvement is written again from the checkpoint's best weights."""
    from openmm_range.training import TrainConfig, train

    out = tmp_path / "run"
    cfg = TrainConfig.from_dict(config(dataset_path, out, epochs=2))
    first = train(cfg, log=lambda *_: None)
    with pytest.raises(ValueError, match="holds a run in progress .*--resume"):
        train(cfg, log=lambda *_: None)
    (out / "best_model.pt").unlink()
    assert train(cfg, resume=True, log=lambda *_: None)["test"] == first["test"]  # nothing trained
    assert (out / "best_model.pt").is_file()  # written again from the checkpoint's best weights
    (out / "checkpoint.pt").unlink()  # a finished run whose checkpoint was removed after publishing
    stamp = (out / "metrics.csv").stat().st_mtime_ns
    messages = []
    assert train(cfg, resume=True, log=messages.append) == first
    assert any("holds a finished run" in m for m in messages) and (out / "metrics.csv").stat().st_mtime_ns == stamp
    with pytest.raises(ValueError, match="holds a finished run"):
        train(cfg, log=lambda *_: None)
    (out / "summary.json").unlink()
    with pytest.raises(ValueError, match="checkpoint.pt is missing"):
        train(cfg, resume=True, log=lambda *_: None)


def test_numbers_written_as_text_are_read_as_numbers():
    """YAML reads 1e-4 (no dot) as a string; the option is read as a number, and text that is not
    one is refused by name."""
    from openmm_range.training import TrainConfig

    assert TrainConfig.from_dict({"lr": "1e-4", "weight_decay": "0"}).lr == 1e-4
    with pytest.raises(ValueError, match="lr must be a number, got 'fast'"):
        TrainConfig.from_dict({"lr": "fast"})


@pytest.mark.parametrize("options, message", [
    ({"epochs": "ten"}, "epochs must be a positive integer, got 'ten'"),
    ({"epochs": 2.5}, "epochs must be a positive integer, got 2.5"),
    ({"batch_size": [8]}, r"batch_size must be a positive integer, got \[8\]"),
    ({"split": "0.8,0.1,0.1"}, r"split must be a list of three fractions \[train, val, test\], got '0.8,0.1,0.1'"),
    ({"split": [0.9, 0.1]}, r"split must be a list of three fractions \[train, val, test\], got \[0.9, 0.1\]"),
    ({"early_stopping_patience": "five"}, "early_stopping_patience must be a non-negative integer, got 'five'"),
    ({"threads": -1}, "threads must be a non-negative integer, got -1"),
    ({"model_seed": 0.5}, "model_seed must be a non-negative integer, got 0.5"),
    ({"data": [5]}, r"data must be a list of dataset paths, got \[5\]"),
    ({"held_out_molecules": "water+nma"}, "held_out_molecules must be a list of molecule names, got 'water\\+nma'"),
    ({"max_structures": 20.5}, "max_structures must be a whole count .* got 20.5"),
    ({"max_structures": -5}, "max_structures must be a whole count .* got -5"),
    ({"max_structures": [10, 20]}, r"max_structures as a list needs one whole count per dataset in data \(1;"),
    ({"hyperparameters": [1]}, r"hyperparameters must be a mapping of model options .* got \[1\]"),
    ({"device": "gpu"}, "device must be 'cpu', 'cuda' or 'cuda:N', got 'gpu'"),
    ({"split_by": "bogus"}, r"split_by must be one of \['structure', 'molecule'\], got 'bogus'"),
])
def test_config_values_of_the_wrong_kind_are_refused_by_name(options, message):
    from openmm_range.training import TrainConfig

    with pytest.raises(ValueError, match=message):
        TrainConfig.from_dict({"data": ["x.npz"], **options})


def test_max_structures_written_as_text_or_float_is_a_count():
    """YAML reads 2e4 as text: it is still the count 20000 (it was silently ignored: all data)."""
    from openmm_range.training import TrainConfig

    assert TrainConfig.from_dict({"data": ["x.npz"], "max_structures": "2e4"}).max_structures == 20000
    assert TrainConfig.from_dict({"data": ["x.npz"], "max_structures": 1000.0}).max_structures == 1000
    assert TrainConfig.from_dict({"data": ["x.npz", "y.npz"], "max_structures": ["30", 0]}).max_structures == [30, 0]


def test_missing_training_data_is_named_and_leaves_no_run_directory(tmp_path):
    from openmm_range.training import TrainConfig, train

    with pytest.raises(ValueError, match="no training data"):
        train(TrainConfig.from_dict({"out_dir": str(tmp_path / "none")}), log=lambda *_: None)
    assert not (tmp_path / "none").exists()

    cfg = TrainConfig.from_dict({"data": [str(tmp_path / "nope.npz")], "out_dir": str(tmp_path / "run")})
    with pytest.raises(FileNotFoundError, match="training data .*nope.npz: no such file or directory"):
        train(cfg, log=lambda *_: None)
    assert not (tmp_path / "run").exists()


def test_config_file_mistakes_are_named(tmp_path):
    """A YAML syntax error names the file; one dataset given as a plain path is a list of one
    (not read letter by letter); whole numbers given as text or floats become integers."""
    from openmm_range.training import TrainConfig

    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [x.npz]\nmodel: schnet\n  epochs: 3\n")
    with pytest.raises(ValueError, match="bad.yaml is not valid YAML"):
        TrainConfig.from_yaml(str(bad))
    good = tmp_path / "good.yaml"
    good.write_text("data: data/dha-xtb\nepochs: '30'\nbatch_size: 8.0\nseed: '2'\nearly_stopping_patience: '5'\n")
    config = TrainConfig.from_yaml(str(good))
    assert config.data == ["data/dha-xtb"] and config.epochs == 30 and config.batch_size == 8
    assert config.seed == 2 and config.early_stopping_patience == 5 and config.model_seed is None
    assert isinstance(config.epochs, int) and isinstance(config.batch_size, int)


def test_early_stopping_stops_and_stays_stopped_on_resume(dataset_path, tmp_path):
    """With no validation improvement for ``early_stopping_patience`` epochs the run stops; resuming
    it trains no further epoch (with a zero learning rate nothing can improve after epoch 1)."""
    from openmm_range.training import TrainConfig, train

    cfg = TrainConfig.from_dict(config(dataset_path, tmp_path / "run", epochs=6, lr=0.0, early_stopping_patience=2))
    messages = []
    assert train(cfg, log=messages.append)["epochs_run"] == 3
    assert any("early stopping" in m for m in messages)
    assert train(cfg, resume=True, log=lambda *_: None)["epochs_run"] == 3


def test_keep_split_of_a_run_on_one_subsampled_dataset(dataset_path, tmp_path):
    """An earlier run on a subsample of one dataset numbers its split by that dataset's indices;
    its structures still keep their parts when a dataset is added."""
    from openmm_range.training import TrainConfig, train
    from openmm_range.training.trainer import load_data

    first = tmp_path / "first"
    train(TrainConfig.from_dict(config(dataset_path, first, epochs=1, max_structures=[10])), log=lambda *_: None)
    before = json.loads((first / "split.json").read_text())
    subsample = sorted(before["train"] + before["val"] + before["test"])
    assert len(subsample) == 10 and subsample != list(range(10))  # original indices, not positions
    grown = config(dataset_path, tmp_path / "grown", epochs=1, data=[str(dataset_path), str(dataset_path)],
                   max_structures=[10, 0], keep_split=str(first))
    _, parts, _ = load_data(TrainConfig.from_dict(grown))
    for name, part in zip(("train", "val", "test"), parts):
        idx = part.parent_indices
        assert sorted(subsample[i] for i in idx[idx < 10]) == sorted(before[name])


def test_train_flags_change_one_option_each(dataset_path, tmp_path):
    """``--hyperparameters`` changes the model options it names and keeps the YAML's others;
    list options (``--held-out-molecules``) take several values."""
    from openmm_range.cli.main import build_parser
    from openmm_range.cli.train_cmd import config_from_args

    path = write_config(tmp_path / "cfg.yaml", config(dataset_path, tmp_path / "run"))
    args = build_parser().parse_args(["train", path, "--hyperparameters", '{"hidden_channels": 8}',
                                      "--held-out-molecules", "CO", "O", "--split-by", "molecule"])
    got = config_from_args(args)
    assert got.hyperparameters == {"hidden_channels": 8, "num_interactions": 2, "num_heads": 4, "readout_layers": [16]}
    assert got.held_out_molecules == ["CO", "O"] and got.split_by == "molecule"


def test_a_kill_while_the_first_checkpoint_is_written_leaves_a_run_that_starts(dataset_path, tmp_path, monkeypatch):
    """The checkpoint is written before metrics.csv: a trainer killed while writing its first one
    leaves no metrics.csv without a checkpoint (which a resume must refuse as a run it cannot
    continue), so ``--resume`` starts the run."""
    from openmm_range.training import TrainConfig, train
    from openmm_range.training import trainer

    real = trainer.atomic_write

    def killed_at_checkpoint(path, write):
        if Path(path).name == "checkpoint.pt":
            raise KeyboardInterrupt
        real(path, write)

    cfg = TrainConfig.from_dict(config(dataset_path, tmp_path / "run", epochs=2))
    monkeypatch.setattr(trainer, "atomic_write", killed_at_checkpoint)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, log=lambda *_: None)
    monkeypatch.setattr(trainer, "atomic_write", real)
    summary = train(cfg, resume=True, log=lambda *_: None)
    assert summary["epochs_run"] == 2


def test_a_moved_run_resumes_and_a_changed_option_is_named(dataset_path, tmp_path, monkeypatch):
    """A run directory copied elsewhere (a cluster's scratch space), with its data path spelt
    otherwise, resumes: the data are compared by content. A real change is refused naming it."""
    import shutil

    from openmm_range.training import TrainConfig, train

    train(TrainConfig.from_dict(config(dataset_path, tmp_path / "a", epochs=1)), log=lambda *_: None)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    respelt = str(Path(os.path.relpath(dataset_path, tmp_path)))
    monkeypatch.chdir(tmp_path)
    summary = train(TrainConfig.from_dict(config(respelt, tmp_path / "b", epochs=2)), resume=True, log=lambda *_: None)
    assert summary["epochs_run"] == 2
    with pytest.raises(ValueError, match=r"different configuration \(lr: 0\.003 -> 0\.001\)"):
        train(TrainConfig.from_dict(config(dataset_path, tmp_path / "a", epochs=2, lr=1e-3)), resume=True,
              log=lambda *_: None)
