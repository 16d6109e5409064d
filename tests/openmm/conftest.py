"""Fixtures for the OpenMM plugin tests: tiny saved models, test structures, torch threads."""
from pathlib import Path

import openmm.app as app
import pytest

from openmm_range.registry import MODEL_NAMES

from openmm_helpers import ALANINE_PDB, make_model_file, peptide_only


@pytest.fixture(autouse=True)
def _single_torch_thread(one_torch_thread):
    """Every OpenMM test runs with one torch thread (tests/conftest.py)."""


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("range-models")


@pytest.fixture(scope="session")
def model_files(model_dir):
    """One tiny saved model per architecture in MODEL_NAMES."""
    return {name: make_model_file(model_dir, name) for name in MODEL_NAMES}


@pytest.fixture(scope="session")
def alanine_pdb():
    """Alanine dipeptide in TIP3P water, periodic (committed: data/structures/README.md)."""
    return app.PDBFile(str(ALANINE_PDB))


@pytest.fixture(scope="session")
def peptide(alanine_pdb):
    """Alanine dipeptide in vacuum: (topology, positions nm)."""
    return peptide_only(alanine_pdb)


@pytest.fixture(scope="session")
def peptide_pdb(tmp_path_factory, peptide):
    """Alanine dipeptide in vacuum as a PDB file (the simulate command's input)."""
    import openmm.unit as unit

    topology, positions = peptide
    path = tmp_path_factory.mktemp("peptide") / "peptide.pdb"
    with open(path, "w") as handle:
        app.PDBFile.writeFile(topology, positions * unit.nanometer, handle)
    return path
