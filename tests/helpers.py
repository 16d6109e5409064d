"""Small shared builders for tests (structures are generated, never hard-coded results)."""
import torch

import openmm_range

SMALL = dict(hidden_channels=16, num_filters=16, num_interactions=2, num_heads=4, num_master_nodes=3,
             readout_layers=(16, 8))


def small_model(name: str, dtype=torch.float64, seed: int = 0, **overrides):
    """A tiny randomly initialised model (float64 by default) with non-trivial RANGE regularisers
    (and, for the v2 block, a non-zero residual branch)."""
    torch.manual_seed(seed)
    model = openmm_range.create_model(name, **{**SMALL, **overrides}).to(dtype)
    with torch.no_grad():
        for layer in model.layers:
            if layer.range_block is not None:  # move lambda/a/b away from their initial values
                for p in (layer.range_block.lambda_raw, layer.range_block.a_raw, layer.range_block.b_raw):
                    p.add_(torch.randn_like(p) * 0.5)
                if layer.range_block.residual:  # v2 starts as the identity on the atoms: open it
                    layer.range_block.mix[-1].weight.normal_(0.0, 0.3)
        model.readout.scale.uniform_(0.5, 1.5)
        model.readout.shift.uniform_(-1.0, 1.0)
    return model.eval()


def random_molecule(n: int, seed: int = 0, spacing: float = 1.3, dtype=torch.float64):
    """Atomic numbers (H C N O S) and positions (Å) of n atoms placed with a minimum separation."""
    g = torch.Generator().manual_seed(seed)
    elements = torch.tensor([1, 6, 7, 8, 16])
    z = elements[torch.randint(0, 5, (n,), generator=g)]
    side = (n / 0.08) ** (1 / 3)
    pos = []
    while len(pos) < n:
        p = torch.rand(3, generator=g, dtype=dtype) * side
        if all(float((p - q).norm()) > spacing for q in pos):
            pos.append(p)
    return z, torch.stack(pos)


def random_rotation(seed: int = 0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(3, 3, generator=g, dtype=dtype))
    q = q * torch.sign(torch.diagonal(r))
    if torch.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q
