"""Bad input gives a ValueError that names the problem."""
import math

import pytest
import torch

import openmm_range
from helpers import random_molecule, small_model


@pytest.fixture(scope="module")
def model():
    return small_model("range-schnet")


def test_unknown_element(model):
    z, pos = random_molecule(4)
    z[2] = 26  # iron is not in the model's element list
    with pytest.raises(ValueError, match=r"atom 2 has element Fe"):
        model(z, pos)
    with pytest.raises(ValueError, match=r"Fe"):
        openmm_range.export(model, z.tolist())
    with pytest.raises(ValueError, match=r"unknown element symbol 'Xx'"):
        openmm_range.create_model("schnet", elements=["H", "Xx"])


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_nan_and_inf_positions(model, bad):
    z, pos = random_molecule(4)
    pos[1, 2] = bad
    with pytest.raises(ValueError, match="NaN or inf"):
        model(z, pos)
    module = openmm_range.export(model, z.tolist())
    with pytest.raises(Exception, match="NaN or inf"):
        module(pos / 10)


def test_wrong_shapes(model):
    z, pos = random_molecule(4)
    with pytest.raises(ValueError, match=r"shape \(N, 3\)"):
        model(z, pos[:, :2])
    with pytest.raises(ValueError, match="4 atomic numbers but 3 positions"):
        model(z, pos[:3])
    module = openmm_range.export(model, z.tolist())
    with pytest.raises(Exception, match=r"shape \(4, 3\)"):
        module(pos[:3] / 10)


def test_empty_molecule(model):
    with pytest.raises(ValueError, match="empty"):
        model(torch.zeros(0, dtype=torch.long), torch.zeros(0, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="empty"):
        openmm_range.export(model, [])


@pytest.mark.parametrize("cutoff", [0.0, -1.0, math.nan])
def test_non_positive_cutoff(cutoff):
    with pytest.raises(ValueError, match="cutoff must be a positive"):
        openmm_range.create_model("schnet", cutoff=cutoff)


def test_unknown_model_and_hyperparameter():
    with pytest.raises(ValueError, match="unknown model 'mace'; accepted: schnet, painn, range-schnet, range-painn"):
        openmm_range.create_model("mace")
    with pytest.raises(ValueError, match=r"unknown hyperparameter\(s\) \['hidden'\]"):
        openmm_range.create_model("schnet", hidden=3)
    with pytest.raises(ValueError, match="divisible by num_heads"):
        openmm_range.create_model("range-schnet", hidden_channels=30, num_heads=16)


def test_not_a_model_file(tmp_path):
    path = tmp_path / "x.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match="not an openmm-range model file"):
        openmm_range.load_model(path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        openmm_range.load_model(tmp_path / "missing.pt")
    # an exported (TorchScript) module and a text file are named for what they are
    model = openmm_range.create_model("schnet", hidden_channels=8, num_interactions=1)
    torch.jit.save(openmm_range.export(model, [8, 1, 1]), str(tmp_path / "exported.pt"))
    with pytest.raises(ValueError, match=r"is not an openmm-range model file \(.*\): it is a TorchScript module"):
        openmm_range.load_model(tmp_path / "exported.pt")
    (tmp_path / "notes.txt").write_text("epoch 1: loss 0.5\n")
    with pytest.raises(ValueError, match=r"not an openmm-range model file \(.*\): it is not a file written by torch\.save "
                                         r"\(\w+(Error|Exception)"):
        openmm_range.load_model(tmp_path / "notes.txt")
    # the format tag right but the rest malformed: refused by name, not a KeyError or TypeError
    from openmm_range.serialization import FORMAT

    for payload in ({"format": FORMAT, "format_version": "1", "metadata": "{}"},
                    {"format": FORMAT, "format_version": 1, "metadata": "{}", "state_dict": {}}):
        torch.save(payload, path)
        with pytest.raises(ValueError, match="not an openmm-range model file"):
            openmm_range.load_model(path)


def test_cli_output_into_a_closed_pipe_is_quiet():
    """``openmm-range ... | head``: a reader that goes away ends the command without a traceback."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "openmm_range.cli.main", "info", "range-schnet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the command writes anything
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 141, err
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


@pytest.mark.parametrize("value, text, expected", [
    (3, True, 3), (3.0, True, 3), ("2e4", True, 20000), ("2e4", False, None), (2.5, True, None),
    (True, True, None), (float("inf"), True, None), (float("nan"), True, None), (None, True, None),
    ("x", True, None), (-2, False, -2),
])
def test_whole_number_accepts_only_whole_numbers(value, text, expected):
    from openmm_range.validation import whole_number

    assert whole_number(value, text=text) == expected
