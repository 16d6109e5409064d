"""Fixtures for the OpenMM plugin tests: tiny saved models, test structures, torch threads."""
from pathlib import Path

import openmm.app as app
import pytest
import torch

from openmm_range.registry import MODEL_NAMES

from openmm_helpers import ALANINE_PDB, make_model_file, peptide_only


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One torch thread: on two shared cores, OpenMM + torch threads oversubscribe badly."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("range-models")


@pytest.fixture(scope="session")
def model_files(model_dir):
    """One tiny saved model per architecture in MODEL_NAMES."""
    return {name: make_model_file(model_dir, name) for name in MODEL_NAMES}


@pytest.fixture(scope="session")
def alanine_pdb():
    if not ALANINE_PDB.is_file():
        pytest.skip(f"test structure {ALANINE_PDB} is missing (expected in ../shared/data beside the repository)")
    return app.PDBFile(str(ALANINE_PDB))


@pytest.fixture(scope="session")
def peptide(alanine_pdb):
    """Alanine dipeptide in vacuum: (topology, positions nm)."""
    return peptide_only(alanine_pdb)
