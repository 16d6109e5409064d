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
