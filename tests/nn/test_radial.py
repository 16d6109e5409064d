"""The Gaussian radial basis: the textbook values, and no subnormal floats (they slow CPUs down)."""
import torch

from openmm_range.nn.radial import GaussianRBF


def test_gaussians_match_the_formula_and_are_never_subnormal():
    rbf = GaussianRBF(33, 5.0).float()
    r = torch.linspace(0.0, 30.0, 3001, dtype=torch.float32)
    phi = rbf(r)
    exact = torch.exp(rbf.coeff * (r.double().unsqueeze(-1) - rbf.centres.double()) ** 2)
    assert torch.allclose(phi.double(), exact, rtol=1e-5, atol=1e-30)
    tiny = torch.finfo(torch.float32).tiny  # smallest normal float32
    assert not ((phi != 0) & (phi.abs() < tiny)).any()
    # the plain formula in float32 does give subnormals here: the guard is needed
    plain = torch.exp(rbf.coeff * (r.unsqueeze(-1) - rbf.centres) ** 2)
    assert ((plain != 0) & (plain.abs() < tiny)).any()
    # and the derivative with respect to r is the formula's where phi is not cut to 0
    rr = torch.tensor([0.37, 2.2, 4.9], dtype=torch.float64, requires_grad=True)
    rbf64 = GaussianRBF(33, 5.0).double()
    (grad,) = torch.autograd.grad(rbf64(rr).sum(), rr)
    expected = (torch.exp(rbf64.coeff * (rr.detach().unsqueeze(-1) - rbf64.centres) ** 2)
                * 2 * rbf64.coeff * (rr.detach().unsqueeze(-1) - rbf64.centres)).sum(-1)
    assert torch.allclose(grad, expected, rtol=1e-12)
