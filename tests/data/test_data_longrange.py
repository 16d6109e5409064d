"""Long-range measurement: displacing only distant atoms changes a probe atom's force by a
small, measurable amount; dimer interaction energies fade with separation."""
import numpy as np
import pytest

from openmm_range.data import load_dataset
from openmm_range.data.longrange import dimer_interaction_scan, far_field_force_change


def test_far_field_force_change(tiny_generated):
    _, out_dir, _ = tiny_generated
    frames = load_dataset(out_dir).frames
    result = far_field_force_change(frames, radii=(1.5, 3.0), n_structures=2, n_probes=2, sigma=0.1, seed=1)
    near, far = result["summary"]
    assert near["probes"] > 0 and far["probes"] > 0
    # moving atoms >1.5 A away includes bonded neighbours' neighbours: a large effect;
    # beyond 3 A in a 9-atom molecule only a few atoms move: smaller, but above SCF noise
    assert near["mean_meV_per_A"] > far["mean_meV_per_A"] > result["scf_noise_floor_max_meV_per_A"]
    assert all(r["n_far"] > 0 for r in result["probes"])


def test_far_field_needs_large_structures(tiny_generated):
    _, out_dir, _ = tiny_generated
    with pytest.raises(ValueError, match="no structure is larger than 50.0"):
        far_field_force_change(load_dataset(out_dir).frames, radii=(50.0,))


def test_dimer_scan_decays(tiny_dimers):
    _, out_dir, _ = tiny_dimers
    result = dimer_interaction_scan(out_dir, pairs=["water+water"], gaps=(2.0, 5.0, 10.0, 20.0), n_orientations=3)
    e = np.array(result["pairs"][0]["kcal_per_mol"])
    assert e[0] < 0  # most attractive of the orientations: a hydrogen-bonded contact
    assert abs(e[-1]) < abs(e[1]) < abs(e[0])
    with pytest.raises(ValueError, match="unknown pair"):
        dimer_interaction_scan(out_dir, pairs=["water+benzene"])


def _polyene_frames():
    """One conformer each of two short push-pull polyenes (H2N-(CH=CH)3-NO2 and the plain triene)."""
    from openmm_range.data.frames import Frames
    from openmm_range.data.generate.molecules import build_molecule

    smiles = {"pp": "N/C=C/C=C/C=C/[N+](=O)[O-]", "plain": "C=C/C=C/C=C"}
    mols = [build_molecule(name, smi, 1, seed=3) for name, smi in smiles.items()]
    z = np.concatenate([m.z for m in mols])
    pos = np.concatenate([m.conformers[0] for m in mols])
    frames = Frames.from_arrays(z, pos, np.zeros(2), np.zeros_like(pos), [len(m.z) for m in mols], mol_id=[0, 1],
                                molecules=list(smiles))
    return frames, smiles


def test_end_group_force_change_is_the_force_change_of_the_capped_molecule():
    from openmm_range.data.generate.potentials import XTBPotential
    from openmm_range.data.longrange import end_group_force_change

    frames, smiles = _polyene_frames()
    result = end_group_force_change(frames, smiles, radii=(2.0, 4.0), n_structures=5)
    assert result["structures"] == [0]  # the plain triene has no terminal group of the list
    swaps = {r["group"]: r for r in result["swaps"]}
    assert sorted(swaps) == ["NH2", "NO2"]
    # NO2 replaced by H by hand: atoms 0-7 are N, C x 6, N+; the nitro O are 8 and 9; C7 carries it
    pos, z = frames.pos[:frames.n_atoms[0]], frames.z[:frames.n_atoms[0]]
    keep = [i for i in range(len(z)) if i not in (7, 8, 9)]
    cap = pos[6] + 1.09 * (pos[7] - pos[6]) / np.linalg.norm(pos[7] - pos[6])
    _, f_ref = XTBPotential(z, accuracy=0.01, reuse_wavefunction=False)(pos)
    _, f_cap = XTBPotential(np.append(z[keep], 1), accuracy=0.01, reuse_wavefunction=False)(np.vstack([pos[keep], cap]))
    expected = np.linalg.norm(f_cap[:-1] - f_ref[keep], axis=1) * 1000
    assert np.allclose(swaps["NO2"]["change_meV_per_A"], expected, atol=1e-3)
    near, far = result["summary"]
    assert near["far_atoms"] > far["far_atoms"] > 0 and near["mean_meV_per_A"] > far["mean_meV_per_A"] > 1.0
    assert 0 < far["structure_mean_meV_per_A"] < far["mean_meV_per_A"]


def test_end_group_force_change_refuses_what_it_cannot_locate():
    from openmm_range.data.longrange import end_group_force_change

    frames, smiles = _polyene_frames()
    with pytest.raises(ValueError, match="no structure's molecule has a terminal group"):
        end_group_force_change(frames.take([1]), smiles)
    with pytest.raises(ValueError, match="in RDKit's order"):
        end_group_force_change(frames, {"pp": "[O-][N+](=O)/C=C/C=C/C=C/N", "plain": smiles["plain"]})


def test_end_signal_command(tiny_generated, tmp_path, capsys):
    """The CLI finds the SMILES in the dataset's meta.json: on the committed push-pull set one structure's
    end groups are swapped; a set without terminal groups is refused by name."""
    from pathlib import Path

    from openmm_range.cli.main import main

    pushpull = Path(__file__).resolve().parents[2] / "data" / "pushpull-xtb"
    out = tmp_path / "end.json"
    assert main(["data", "end-signal", str(pushpull), "--structures", "1", "--radii", "5", "--json", str(out)]) == 0
    assert "beyond   5.0 A" in capsys.readouterr().out
    import json

    result = json.loads(out.read_text())
    assert len(result["structures"]) == 1 and result["summary"][0]["far_atoms"] > 0
    _, out_dir, _ = tiny_generated
    assert main(["data", "end-signal", str(out_dir)]) == 2
    assert "no structure's molecule has a terminal group" in capsys.readouterr().err
