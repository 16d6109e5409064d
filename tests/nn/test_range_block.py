"""The RANGE block against a literal, loop-by-loop transcription of the paper's equations."""
import math

import pytest
import torch

from openmm_range.nn import GaussianRBF, CosineCutoff
from openmm_range.nn.range_block import RangeBlock


def reference_range(block: RangeBlock, s, master, pos_rbf, batch, size_n):
    """Equations (3)-(8), (11)-(16) of the paper, one atom, head and master node at a time.

    For the v2 form: master I's own positional projection A_E^I, attention vector a_I and linear
    positional score c_I^l . E_i, the
    master state carried (H' = H + tanh(...)) and the atom update residual (h' = h + MLP(...))."""
    v2 = block.residual
    L, d, M = block.heads, block.head_dim, block.num_master
    W = block.projection_weight
    leaky = lambda x: torch.nn.functional.leaky_relu(x, 0.2)  # noqa: E731
    B = master.shape[0]
    lam = block.lambdas()
    a = torch.nn.functional.softplus(block.a_raw)
    b = torch.nn.functional.softplus(block.b_raw)
    new_master = torch.zeros_like(master)
    for g in range(B):
        atoms = [i for i in range(s.shape[0]) if int(batch[i]) == g]
        for I in range(M):
            for l in range(L):
                sl = slice(l * d, (l + 1) * d)
                q = (block.agg_q.weight[sl] @ master[g, I] + block.agg_q.bias[sl])
                a_vec = block.agg_a[I, l] if v2 else block.agg_a[l]
                A_E = W(f"agg_e{I}") if v2 else W("agg_e")
                logits = torch.stack([a_vec @ leaky(q + W("agg_k")[sl] @ s[i] + A_E[sl] @ pos_rbf[i])
                                      + (block.positional_scores()[I, l] @ pos_rbf[i] if v2 else 0.0) for i in atoms])
                w = torch.softmax(logits, 0)
                new_master[g, I, sl] = sum(w[k] * (W("agg_v")[sl] @ s[i]) for k, i in enumerate(atoms))
    new_master = master + torch.tanh(new_master) if v2 else torch.tanh(new_master)
    out = torch.zeros_like(s)
    for i in range(s.shape[0]):
        g = int(batch[i])
        n = float(size_n[g])
        Lam = [1.0] + [float(lam[I] ** ((1 + a[I - 1]) * abs(max(0.0, 1 - n) + math.tanh(float(b[I - 1])) * min(1.0, n))))
                       for I in range(1, M)]
        for l in range(L):
            sl = slice(l * d, (l + 1) * d)
            q = W("bc_q")[sl] @ s[i] + block.bc_q_bias[sl]
            self_logit = block.bc_b[l] @ leaky(q + W("bc_k_self")[sl] @ s[i])
            logits = [self_logit] + [block.bc_b[l] @ leaky(q + block.bc_k[l] @ new_master[g, I, sl]
                                                           + W("bc_e")[sl] @ pos_rbf[i]) for I in range(M)]
            w = torch.softmax(torch.stack(logits), 0)
            acc = w[0] * (W("bc_v_self")[sl] @ s[i])
            for I in range(M):
                acc = acc + Lam[I] * w[1 + I] * (block.bc_v[l] @ new_master[g, I, sl])
            out[i, sl] = acc
    return (s + block.mix(out) if v2 else block.mix(out)), new_master


@pytest.mark.parametrize("form", ["paper", "v2"])
@pytest.mark.parametrize("num_master", [1, 3])
def test_range_block_matches_paper_equations(num_master, form):
    torch.manual_seed(0)
    block = RangeBlock(hidden=8, num_heads=2, num_master_nodes=num_master, form=form).double()
    with torch.no_grad():
        block.bc_q_bias.normal_()
        block.mix[-1].weight.normal_()  # v2 starts with this layer at zero
        for p in (block.lambda_raw, block.a_raw, block.b_raw):
            p.add_(torch.randn_like(p))
    n_atoms = 7
    s = torch.randn(n_atoms, 8, dtype=torch.float64)
    batch = torch.tensor([0, 0, 0, 1, 1, 1, 1])
    master = torch.randn(2, num_master, 8, dtype=torch.float64)
    pos_rbf = torch.rand(n_atoms, 7, dtype=torch.float64)
    size_n = torch.tensor([0.3, 1.7], dtype=torch.float64)
    with torch.no_grad():
        got_s, got_m = block(s, master, pos_rbf, batch, 2, size_n)
        ref_s, ref_m = reference_range(block, s, master, pos_rbf, batch, size_n)
    torch.testing.assert_close(got_m, ref_m, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(got_s, ref_s, rtol=1e-10, atol=1e-12)


def test_lambda_one_fixed_and_all_scales_in_unit_interval():
    torch.manual_seed(1)
    block = RangeBlock(hidden=8, num_heads=2, num_master_nodes=4).double()
    n = torch.linspace(-0.5, 2.5, 31, dtype=torch.float64)
    for _ in range(5):
        with torch.no_grad():
            for p in (block.lambda_raw, block.a_raw, block.b_raw):
                p.copy_(torch.randn_like(p) * 4)
        scale = block.master_scale(n)
        assert scale.shape == (31, 4)
        assert torch.equal(scale[:, 0], torch.ones(31, dtype=torch.float64))
        assert float(block.lambdas()[0].detach()) == 1.0
        assert bool(((scale >= 0) & (scale <= 1)).all())
    # small molecules damp the extra master nodes more than large ones (gamma decreases with n)
    assert bool((scale[0, 1:] <= scale[-1, 1:]).all())


def test_regularization_term():
    block = RangeBlock(hidden=8, num_heads=2, num_master_nodes=3).double()
    lam = torch.sigmoid(block.lambda_raw)
    a = torch.nn.functional.softplus(block.a_raw)
    b = torch.nn.functional.softplus(block.b_raw)
    expected = sum(abs(float((lam[k] + a[k] + b[k]).detach())) for k in range(2))
    assert float(block.regularization().detach()) == pytest.approx(expected, rel=1e-12)


def test_basis_and_cutoff():
    rbf = GaussianRBF(7, 1.0)
    values = rbf(torch.tensor([0.0, 0.5, 1.0]))
    assert values.shape == (3, 7)
    assert torch.allclose(values[:, [0, 3, 6]].diagonal(), torch.ones(3))
    cut = CosineCutoff(5.0)
    r = torch.tensor([0.0, 2.5, 4.999999, 5.0, 7.0], dtype=torch.float64)
    assert cut(r).tolist()[0] == 1.0 and cut(r)[1] == pytest.approx(0.5)
    assert cut(r)[2] < 1e-10 and cut(r)[3] == 0 and cut(r)[4] == 0


def test_smooth_leaky_relu_has_leaky_slopes_and_no_kink():
    from openmm_range.nn.mlp import SmoothLeakyReLU, attention_activation

    act = SmoothLeakyReLU(0.2)
    x = torch.linspace(-40, 40, 801, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(act(x).sum(), x)
    assert grad[0].item() == pytest.approx(0.2, abs=1e-12) and grad[-1].item() == pytest.approx(1.0, abs=1e-12)
    assert (grad[1:] >= grad[:-1]).all()  # slope rises monotonically from 0.2 to 1 ...
    assert (grad[1:] - grad[:-1]).abs().max() < 0.03  # ... without a jump (LeakyReLU jumps by 0.8 at 0)
    assert torch.autograd.gradgradcheck(act, (torch.randn(7, dtype=torch.float64, requires_grad=True),))
    plain = attention_activation("leaky_relu")
    x = torch.linspace(-3, 3, 61, dtype=torch.float64)
    assert torch.equal(plain(x), torch.nn.functional.leaky_relu(x, 0.2))
    with pytest.raises(ValueError, match="accepted: \\['leaky_relu', 'smooth_leaky_relu'\\]"):
        attention_activation("relu")


def test_attention_activation_is_a_checked_hyperparameter_that_survives_saving(tmp_path):
    import openmm_range

    with pytest.raises(ValueError, match="attention_activation must be one of"):
        openmm_range.create_model("range-schnet", hidden_channels=16, num_heads=4, attention_activation="gelu")
    model = openmm_range.create_model("range-schnet", hidden_channels=16, num_heads=4,
                                      attention_activation="smooth_leaky_relu")
    openmm_range.save_model(model, tmp_path / "m.pt")
    loaded = openmm_range.load_model(tmp_path / "m.pt")
    assert loaded.config.attention_activation == "smooth_leaky_relu"
    z, pos = torch.tensor([8, 1, 1, 6]), torch.randn(4, 3)
    batch = torch.zeros(4, dtype=torch.long)
    assert torch.equal(model(z, pos, batch), loaded(z, pos, batch))
