"""Every committed training config and campaign is usable, and the paper's configs hold its recipe."""
from pathlib import Path

import pytest

from openmm_range.api import create_model
from openmm_range.training.campaign import read_campaign
from openmm_range.training.config import TrainConfig

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted(p for p in (REPO / "configs").rglob("*.yaml") if "campaigns" not in p.parts)
CAMPAIGNS = sorted((REPO / "configs" / "campaigns").glob("*.yaml"))
PAPER = sorted((REPO / "configs" / "paper").glob("*.yaml"))


def test_the_configs_are_found():
    assert len(CONFIGS) >= 20 and len(CAMPAIGNS) >= 3 and len(PAPER) >= 6


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(REPO / "configs")))
def test_config_parses_and_builds_its_model(path):
    config = TrainConfig.from_yaml(str(path))
    for data in config.data:
        assert (REPO / data).is_dir(), f"{path}: dataset {data} is not in the checkout"
    if config.init_from:
        assert (REPO / config.init_from).is_file(), f"{path}: init_from {config.init_from} is not in the checkout"
    if config.keep_split:
        assert (REPO / config.keep_split / "split.json").is_file(), f"{path}: keep_split {config.keep_split}"
    model = create_model(config.model, **config.hyperparameters)
    assert model.config.cutoff == config.hyperparameters.get("cutoff", 5.0)


@pytest.mark.parametrize("path", CAMPAIGNS, ids=lambda p: p.name)
def test_campaign_runs_exist_and_have_distinct_out_dirs(path, monkeypatch):
    monkeypatch.chdir(REPO)
    runs = read_campaign(str(path))
    out_dirs = [TrainConfig.from_yaml(str(p)).out_dir for p in runs]
    assert len(set(out_dirs)) == len(out_dirs)


@pytest.mark.parametrize("path", PAPER, ids=lambda p: p.name)
def test_paper_configs_hold_the_paper_recipe(path):
    """range-method.md section 6: lr 1e-4, AdamW 0.01, steps 19/6/8 with gamma 0.8, alpha 0.01 -> 0.1
    after 125 epochs, delta 2 (0 for RANGE-NR), 500 epochs for DHA, width 512, the paper's block."""
    c = TrainConfig.from_yaml(str(path))
    assert (c.lr, c.weight_decay, c.schedule, c.lr_gamma) == (1e-4, 0.01, "step", 0.8)
    assert (c.lr_step_network, c.lr_step_lambda, c.lr_step_ab) == (19, 6, 8)
    assert (c.loss, c.alpha_initial, c.alpha_final, c.alpha_switch_epoch) == ("paper", 0.01, 0.1, 125)
    assert c.epochs == 500 and c.ema_decay == 0.0
    assert c.reg_delta == (0.0 if "-nr-" in path.name else 2.0)
    hp = c.hyperparameters
    assert hp["hidden_channels"] == 512 and hp["num_interactions"] == 3 and hp["activation"] == "tanh"
    if c.model.startswith("range-"):
        assert (hp["num_heads"], hp["range_form"], hp["range_scope"]) == (16, "paper", "structure")
