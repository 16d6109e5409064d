"""Suite-wide fixtures.

Every input a test reads is in the repository (structures: data/structures/, with provenance
in its README.md); a missing file is an error, not a skip. The only allowed skip is a test
that needs a GPU, and its reason must contain "needs a CUDA GPU": .ci/run fails on any other
skip (scripts/check_skips.py).
"""
import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.dirname(__file__))
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture
def one_torch_thread():
    """One torch thread for the test: OpenMM + torch threads oversubscribe the two shared cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def rng():
    return torch.Generator().manual_seed(1234)
