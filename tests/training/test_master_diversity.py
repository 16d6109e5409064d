"""Master nodes after a few training steps on real DHA frames: distinct with the v2 block, copies of one
another with the paper's block (the failure v2 fixes), and ``openmm-range inspect`` reports it."""
import json
from pathlib import Path

import pytest
import torch
from torch_geometric.data import Batch

from openmm_range.cli.main import main
from openmm_range.data import load_dataset
from openmm_range.serialization import save_model
from openmm_range.training.config import TrainConfig
from openmm_range.training.inspect import master_diagnostics
from openmm_range.training.loss import loss_terms
from openmm_range.training.trainer import build_model

DHA = Path(__file__).resolve().parents[2] / "data" / "dha-xtb"


def trained(form: str, steps: int = 12):
    """A width-32 range-schnet trained ``steps`` AdamW steps on 16 dha-xtb frames, float64."""
    data = load_dataset(DHA, dtype=torch.float64).subset(range(0, 1600, 100))
    cfg = TrainConfig(data=[str(DHA)], model="range-schnet", dtype="float64",
                      hyperparameters={"hidden_channels": 32, "num_heads": 4, "num_interactions": 3,
                                       "readout_layers": [32], "range_form": form})
    model = build_model(cfg, data)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    batch = Batch.from_data_list([data[i] for i in range(len(data))])
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        loss, _ = loss_terms(model, batch, 0.01)
        (loss + 2.0 * model.regularization()).backward()
        opt.step()
    return model.eval(), data


@pytest.mark.parametrize("form", ["v2", "paper"])
def test_master_nodes_stay_distinct_only_with_v2(form):
    model, data = trained(form)
    diag = master_diagnostics(model, data)
    assert len(diag["blocks"]) == 3 and diag["pairs"] == [[1, 2], [1, 3], [2, 3]]
    distance = min(min(b["state_distance"]) for b in diag["blocks"])
    cosine = max(max(b["attention_cosine"]) for b in diag["blocks"])
    if form == "v2":
        assert distance >= 0.2 and cosine <= 0.9, diag
    else:  # the paper's block: three copies of one master node
        assert distance < 0.05 and cosine > 0.99, diag


def test_v2_regulariser_parameters_differ_at_initialisation():
    import openmm_range

    v2 = openmm_range.create_model("range-schnet", hidden_channels=16, num_heads=4, num_master_nodes=4)
    paper = openmm_range.create_model("range-schnet", hidden_channels=16, num_heads=4, num_master_nodes=4,
                                      range_form="paper")
    for layer in v2.layers:
        for p in (layer.range_block.lambda_raw, layer.range_block.a_raw, layer.range_block.b_raw):
            assert len(set(p.tolist())) == 3, p
    for layer in paper.layers:
        for p in (layer.range_block.lambda_raw, layer.range_block.a_raw, layer.range_block.b_raw):
            assert len(set(p.tolist())) == 1, p
    # initial master states: orthogonal rows of equal norm in v2
    h0 = v2.master_init.detach().double()
    gram = h0 @ h0.T
    torch.testing.assert_close(gram, torch.eye(4, dtype=torch.float64) * 16, atol=1e-4, rtol=0)


def test_v2_block_is_the_identity_on_atoms_at_initialisation():
    from openmm_range.nn import RangeBlock

    torch.manual_seed(0)
    block = RangeBlock(hidden=16, num_heads=4, num_master_nodes=3, form="v2").double()
    s = torch.randn(9, 16, dtype=torch.float64)
    master = torch.randn(1, 3, 16, dtype=torch.float64)
    pos_rbf = torch.rand(9, 7, dtype=torch.float64)
    new_s, new_master = block(s, master, pos_rbf, torch.zeros(9, dtype=torch.long), 1,
                              torch.zeros(1, dtype=torch.float64))
    assert torch.equal(new_s, s)
    # the carried master state: H' - H is the tanh-bounded update
    assert float((new_master - master).detach().abs().max()) < 1.0
    assert float((new_master - master).detach().abs().max()) > 1e-3


def test_inspect_command_writes_the_diagnostics(tmp_path, capsys):
    model, _ = trained("v2", steps=2)
    save_model(model, tmp_path / "m.pt")
    out = tmp_path / "diag.json"
    assert main(["inspect", str(tmp_path / "m.pt"), str(DHA), "--max-structures", "6", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "attention cosine 1-2" in printed and "Lambda_I(n)" in printed
    diag = json.loads(out.read_text())
    assert diag["structures"] == 6 and diag["master_sets"] == 6  # DHA: one molecule per structure
    # DHA alone: N_min = N_max = 56, so n = 0 and Lambda_I = lambda_I^(1 + a_I) at every size
    scale = diag["blocks"][0]["lambda_scale"]
    assert scale["N_min"] == scale["N_max"] and scale["N_min"][0] == 1.0 and 0 < scale["N_min"][1] < 1
    run = tmp_path / "run"  # a run directory: its data rebuilt from config.json as in training
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"data": [str(DHA)], "max_structures": 40, "split": [0.8, 0.1, 0.1]}))
    assert main(["inspect", str(tmp_path / "m.pt"), "--run", str(run), "--split", "test", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["structures"] == 4
    assert main(["inspect", str(tmp_path / "m.pt"), str(DHA), "--run", str(run)]) == 2  # data given twice
    assert "brings its own data" in capsys.readouterr().err
    assert main(["inspect", "schnet", str(DHA), "--max-structures", "2"]) == 2  # not a RANGE model
    assert "needs a RANGE model" in capsys.readouterr().err
    # the split file of a subsampled run does not index the whole data; an empty split is named
    (run / "split.json").write_text(json.dumps({"train": [0], "val": [1], "test": [2]}))
    assert main(["inspect", str(tmp_path / "m.pt"), str(DHA), "--splits", str(run / "split.json")]) == 2
    assert "trained on a random subsample of its data" in capsys.readouterr().err
    (run / "config.json").write_text(json.dumps({"data": [str(DHA)], "max_structures": 40, "split": [0.9, 0.1, 0.0]}))
    assert main(["inspect", str(tmp_path / "m.pt"), "--run", str(run), "--split", "test"]) == 2
    assert "split 'test' of " in capsys.readouterr().err


def test_attention_svd_counts_the_patterns_of_master_node_attention(tmp_path, capsys):
    """The paper's SVD analysis: weights that are the same in every structure have rank one (s1 = 1);
    a trained model's attention varies between structures (s1 < 1); the numbers are the SVD of the
    stacked weights, and ``inspect --svd`` writes the figure and the JSON."""
    from openmm_range.training.inspect import attention_svd

    model, data = trained("v2", steps=4)
    svd = attention_svd(model, data)
    assert svd["structures"] == len(data) and svd["block"] == 3 and svd["master"] == 1 and len(svd["z"]) == 56
    for kind in ("aggregation", "broadcast"):
        s = torch.tensor(svd[kind]["singular_values"])  # (heads, K)
        assert s.shape[0] == 4 and torch.allclose(s.sum(-1), torch.ones(4, dtype=s.dtype))
        assert (s[:, 0] < 0.999).all()  # positions differ between frames, so the attention does
        assert (torch.tensor(svd[kind]["component"]).sum(-1) > 0).all()
    mean = torch.tensor(svd["aggregation"]["mean"])  # a softmax over the atoms: rows sum to 1
    assert torch.allclose(mean.sum(-1), torch.ones(4, dtype=mean.dtype))
    last = [layer.range_block for layer in model.layers if layer.range_block is not None][-1]
    with torch.no_grad():  # scores that ignore the atoms: uniform aggregation in every structure
        last.agg_a.zero_()
        last.pos_proj.weight[last.pos_score_row:] = 0.0
    uniform = attention_svd(model, data)["aggregation"]
    assert torch.allclose(torch.tensor(uniform["singular_values"], dtype=torch.float64)[:, 0], torch.ones(4, dtype=torch.float64))
    assert torch.allclose(torch.tensor(uniform["mean"], dtype=torch.float64), torch.full((4, 56), 1 / 56, dtype=torch.float64))
    save_model(model, tmp_path / "m.pt")
    png, out = tmp_path / "svd.png", tmp_path / "diag.json"
    assert main(["inspect", str(tmp_path / "m.pt"), str(DHA), "--max-structures", "5", "--svd", str(png),
                 "--svd-master", "2", "--out", str(out)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG" and "Attention SVD, master node 2" in capsys.readouterr().out
    assert json.loads(out.read_text())["svd"]["structures"] == 5
    assert main(["inspect", str(tmp_path / "m.pt"), str(DHA), "--svd", str(png), "--svd-master", "9"]) == 2
    assert "master node 9 does not exist" in capsys.readouterr().err


def test_attention_svd_refuses_structures_of_different_molecules():
    from openmm_range.training.inspect import attention_svd

    model, _ = trained("v2", steps=0)
    dimers = load_dataset(DHA.parent / "dimers-xtb", dtype=torch.float64)
    hco = [i for i in range(0, len(dimers), 50) if set(dimers[i].z.tolist()) <= {1, 6, 8}]  # the model's elements
    sizes = {int(dimers[i].z.numel()): i for i in hco}
    assert len(sizes) >= 2
    dimers = dimers.subset(list(sizes.values())[:2])
    with pytest.raises(ValueError, match="one molecule with its atoms in one order"):
        attention_svd(model, dimers)


def test_inspect_counts_structures_and_master_node_sets_apart():
    """A dimer has two molecules, each with its own master nodes: the diagnostics average over
    the sets of master nodes and say how many structures those came from."""
    model, _ = trained("v2", steps=0)
    dimers = load_dataset(DHA.parent / "dimers-xtb", dtype=torch.float64)
    hco = [i for i in range(0, len(dimers), 50) if set(dimers[i].z.tolist()) <= {1, 6, 8}  # the model's elements
           and not dimers[i].fragment_charge.any()][:6]  # and charges (neutral)
    dimers = dimers.subset(hco)
    sets = sum(int(dimers[i].fragment.max()) + 1 for i in range(len(dimers)))
    assert sets > len(dimers)  # some of them are pairs
    diag = master_diagnostics(model, dimers)
    assert diag["structures"] == len(dimers) and diag["master_sets"] == sets



def test_inspect_max_structures_zero_means_all():
    """``--max-structures 0`` (all structures; scripts/publish_shipped.sh uses it) is accepted, and
    a negative count is refused by argparse."""
    from openmm_range.cli.main import build_parser

    parser = build_parser()
    assert parser.parse_args(["inspect", "range-schnet", "--max-structures", "0"]).max_structures == 0
    with pytest.raises(SystemExit):
        parser.parse_args(["inspect", "range-schnet", "--max-structures", "-1"])
