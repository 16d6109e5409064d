"""The reproduction study's published dha-xtb models (serialized_models/study/, written by
scripts/publish_study.sh) load through openmm-ml with ``modelPath`` and reproduce, through an
OpenMM context, the test accuracy their cards state, on frames of their own test split."""
import json
from pathlib import Path

import numpy as np
import openmm
import openmm.app as app
import pytest
from openmmml import MLPotential

import openmm_range
from openmm_range.data import read_frames
from openmm_range.units import ANGSTROM_PER_NM, KJ_PER_MOL_PER_EV, MEV_PER_EV

REPO = Path(__file__).resolve().parents[2]
STUDY_MODELS = sorted((REPO / "serialized_models" / "study").glob("dha-*.pt"))
DHA_PDB = Path(openmm_range.__file__).resolve().parent / "resources" / "dha.pdb"


@pytest.fixture(scope="module")
def dha_frames():
    return read_frames(str(REPO / "data" / "dha-xtb"))


def test_the_study_models_are_published():
    assert {p.stem for p in STUDY_MODELS} >= {"dha-schnet-5"}, "run scripts/publish_study.sh"


@pytest.mark.parametrize("path", STUDY_MODELS, ids=lambda p: p.stem)
def test_study_model_loads_by_model_path_and_matches_its_card(path, dha_frames):
    meta = openmm_range.read_metadata(path)
    card = path.with_suffix(".md").read_text()
    call = f"MLPotential('{meta['name']}', modelPath='serialized_models/study/{path.name}')"
    assert call in card and path.with_name(f"{path.stem}_learning_curves.png").is_file()

    run = REPO / "runs" / "study" / "dha" / meta["published_name"][len("dha-"):]
    test_ids = json.loads((run / "split.json").read_text())["test"][:4]
    pdb = app.PDBFile(str(DHA_PDB))
    start = np.concatenate([[0], np.cumsum(dha_frames.n_atoms)])
    assert [a.element.atomic_number for a in pdb.topology.atoms()] == list(dha_frames.z[:56])

    system = MLPotential(meta["name"], modelPath=str(path)).createSystem(pdb.topology)
    context = openmm.Context(system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference"))
    errors = []
    for i in test_ids:
        lo, hi = start[i], start[i + 1]
        context.setPositions(dha_frames.pos[lo:hi] / ANGSTROM_PER_NM)
        forces = context.getState(getForces=True).getForces(asNumpy=True)._value  # kJ/mol/nm
        predicted = forces / (KJ_PER_MOL_PER_EV * ANGSTROM_PER_NM)  # eV/Å
        errors.append(np.abs(predicted - dha_frames.forces[lo:hi]) * MEV_PER_EV)
    mae = float(np.mean(errors))
    stated = meta["test_metrics"]["force_mae_mev_a"]
    # 4 frames scatter about the 1,000-frame MAE; an untrained or mis-converted model is 10-1000x off
    assert 0.5 * stated < mae < 2.0 * stated, (mae, stated)
