"""AtomsDataset: Data fields, splits, statistics, content hash, subsets, concatenation; the
single-file store round trip and its refusal of pickle."""
import os

import numpy as np
import pytest
import torch
from torch_geometric.loader import DataLoader

from openmm_range.data import AtomsDataset, concat_datasets, load_dataset, save_frames
from openmm_range.data.frames import Frames
from openmm_range.data.store import write_npz_atomic


def test_data_fields_and_dtypes(synthetic):
    frames, _ = synthetic
    ds = AtomsDataset(frames)
    d = ds[2]
    n = int(frames.n_atoms[2])
    assert d.z.dtype == torch.long and d.z.shape == (n,)
    assert d.pos.dtype == torch.float64 and d.pos.shape == (n, 3)
    assert d.forces.dtype == torch.float64 and d.forces.shape == (n, 3)
    assert d.energy.dtype == torch.float64 and d.energy.shape == (1,)
    assert d.mol_id.tolist() == [2] and d.n_atoms.tolist() == [n]
    ds32 = AtomsDataset(frames, dtype=torch.float32)
    assert {ds32[0].pos.dtype, ds32[0].forces.dtype, ds32[0].energy.dtype} == {torch.float32}


def test_batching_with_pyg_loader(synthetic):
    frames, _ = synthetic
    ds = AtomsDataset(frames)
    batch = next(iter(DataLoader(ds, batch_size=4, shuffle=False)))
    assert batch.num_graphs == 4
    assert batch.energy.shape == (4,)
    assert batch.pos.shape[0] == int(frames.n_atoms[:4].sum()) == batch.n_atoms.sum().item()


def test_stats_recover_reference_energies(synthetic):
    frames, true_refs = synthetic
    stats = AtomsDataset(frames).stats
    assert stats["elements"] == [1, 6, 8]
    assert stats["n_min"] == 5 and stats["n_max"] == 7
    for z, e in true_refs.items():
        assert stats["atom_ref_energies"][z] == pytest.approx(e, abs=1e-6)
    assert stats["energy_residual_std"] < 1e-6
    assert stats["force_rms"] == pytest.approx(np.sqrt(np.mean(frames.forces**2)))


def test_split_by_structure(synthetic):
    frames, _ = synthetic
    ds = AtomsDataset(frames)
    parts = ds.split((0.5, 0.25, 0.25), by="structure", seed=3)
    idx = [p.parent_indices for p in parts]
    assert [len(i) for i in idx] == [6, 3, 3]
    assert sorted(np.concatenate(idx).tolist()) == list(range(len(ds)))
    again = ds.split((0.5, 0.25, 0.25), by="structure", seed=3)
    assert all(np.array_equal(a.parent_indices, b.parent_indices) for a, b in zip(parts, again))
    other = ds.split((0.5, 0.25, 0.25), by="structure", seed=4)
    assert not all(np.array_equal(a.parent_indices, b.parent_indices) for a, b in zip(parts, other))
    # a subset keeps the interface and describes itself
    train = parts[0]
    assert isinstance(train[0].pos, torch.Tensor) and train.stats["n_structures"] == 6
    assert train.content_hash != ds.content_hash


def test_split_by_molecule_never_shares_molecules(frames_factory):
    frames, _ = frames_factory(n_structures=40, n_molecules=10)
    ds = AtomsDataset(frames)
    for seed in range(4):
        parts = ds.split((0.8, 0.1, 0.1), by="molecule", seed=seed)
        mols = [set(frames.mol_id[p.parent_indices].tolist()) for p in parts]
        assert all(mols)
        assert not (mols[0] & mols[1]) and not (mols[0] & mols[2]) and not (mols[1] & mols[2])
        assert sum(len(p) for p in parts) == len(ds)
    train, val, test = ds.split((0.9, 0.1, 0.0), by="molecule", seed=0)
    assert len(test) == 0 and len(train) + len(val) == len(ds) and len(val) > 0


def test_split_errors(synthetic):
    ds = AtomsDataset(synthetic[0])
    with pytest.raises(ValueError, match="sum to 1"):
        ds.split((0.8, 0.1))
    with pytest.raises(ValueError, match="by='atoms' unknown"):
        ds.split(by="atoms")
    single = ds.subset(np.flatnonzero(synthetic[0].mol_id == 0))
    with pytest.raises(ValueError, match="needs at least 3 molecules"):
        single.split(by="molecule")


def test_content_hash_stable_and_sensitive(synthetic, tmp_path):
    frames, _ = synthetic
    ds = AtomsDataset(frames)
    h = ds.content_hash
    assert len(h) == 64 and h == AtomsDataset(frames).content_hash
    # the same content through a file and back (float32 storage of values that are float32-exact)
    exact = Frames.from_arrays(
        z=frames.z,
        pos=frames.pos.astype(np.float32),
        energy=frames.energy,
        forces=frames.forces.astype(np.float32),
        n_atoms=frames.n_atoms,
        mol_id=frames.mol_id + 5,  # renumbered molecule ids do not change the content
        molecules=["x"] * 9,
    )
    path = str(tmp_path / "set.npz")
    save_frames(exact, path)
    assert load_dataset(path).content_hash == AtomsDataset(exact).content_hash
    changed = exact.take(range(len(exact)))
    changed.forces[3, 1] += 1e-4
    assert AtomsDataset(changed).content_hash != AtomsDataset(exact).content_hash
    assert ds.subset([1, 0]).content_hash != ds.subset([0, 1]).content_hash


def test_subset_slicing_and_concat(synthetic, frames_factory):
    frames, _ = synthetic
    ds = AtomsDataset(frames)
    sub = ds[2:5]
    assert isinstance(sub, AtomsDataset) and len(sub) == 3
    assert torch.equal(sub[0].pos, ds[2].pos)
    assert len(ds[torch.tensor([0, 3])]) == 2
    assert len(ds[np.arange(len(ds)) % 2 == 0]) == 6
    other = AtomsDataset(frames_factory(n_structures=5, seed=9)[0])
    both = concat_datasets([ds, other])
    assert len(both) == len(ds) + len(other)
    assert both.stats["n_molecules"] == 4 + 4  # molecule ids of the two parts stay distinct
    assert torch.equal(both[len(ds)].pos, other[0].pos)
    with pytest.raises(ValueError, match="subset index out of range"):
        ds.subset([len(ds)])


def test_frames_validation_names_source_and_key(synthetic):
    frames, _ = synthetic
    with pytest.raises(ValueError, match=r"synthetic: key 'forces' has shape"):
        Frames.from_arrays(frames.z, frames.pos, frames.energy, frames.forces[:-1], frames.n_atoms, source="synthetic")
    energy = frames.energy.copy()
    energy[4] = np.nan
    with pytest.raises(ValueError, match=r"mine: key 'energy' contains NaN or inf \(first at row 4\)"):
        Frames.from_arrays(frames.z, frames.pos, energy, frames.forces, frames.n_atoms, source="mine")


def test_store_is_atomic_and_pickle_free(synthetic, tmp_path):
    frames, _ = synthetic
    path = str(tmp_path / "a.npz")
    save_frames(frames, path)
    assert os.listdir(tmp_path) == ["a.npz"]  # no temporary file left behind
    with np.load(path, allow_pickle=False) as npz:  # everything loads without pickle
        assert {npz[k].dtype.kind for k in npz.files} <= {"U", "u", "i", "f"}
    bad = str(tmp_path / "b.npz")
    write_npz_atomic(bad, {"format": np.array("openmm-range-frames/1"), "z": np.array([1], dtype=object)})
    with pytest.raises(ValueError, match="pickle"):
        load_dataset(bad)


def test_atom_reference_energies_come_from_neutral_structures():
    """Ions (several eV off any sum of atomic terms) must not shift the neutral references."""
    from openmm_range.data.stats import fit_atom_ref_energies

    ref = {1: -13.9, 6: -57.9, 8: -110.5}
    comps = [[6, 1, 1, 1, 1], [8, 1, 1], [6, 8, 1, 1, 1, 1], [6, 6, 1, 1, 1, 1, 1, 1], [8, 1]]  # last: OH- anion
    charge = np.array([0, 0, 0, 0, -1])
    rng = np.random.default_rng(1)
    energy = np.array([sum(ref[z] for z in c) for c in comps]) + rng.normal(scale=0.01, size=len(comps))
    energy[-1] -= 8.0  # the anion's offset
    z = np.concatenate(comps)
    n = np.array([len(c) for c in comps])
    frames = Frames(z=z, pos=rng.normal(size=(len(z), 3)), energy=energy, forces=np.zeros((len(z), 3)), n_atoms=n,
                    mol_id=np.arange(len(comps)), charge=charge, spin=np.zeros(len(comps), dtype=np.int64),
                    molecules=[str(k) for k in range(len(comps))])
    fitted = fit_atom_ref_energies(frames)
    for el, value in ref.items():
        assert fitted[el] == pytest.approx(value, abs=0.05)
    # without neutral structures holding every element, all structures are used
    only_ions = Frames(**{**frames.__dict__, "charge": np.full(len(comps), -1)})
    assert fit_atom_ref_energies(only_ions)[8] != pytest.approx(fitted[8], abs=0.05)


def test_held_out_molecules_go_only_to_the_test_split(tiny_dimers):
    from openmm_range.data import load_dataset

    ds = load_dataset(tiny_dimers[1])
    train, val, test = ds.split((0.5, 0.25, 0.25), seed=3, held_out=["water+water"])
    names = lambda part: {ds.molecules[m] for m in ds.frames.mol_id[part.parent_indices]}  # noqa: E731
    assert "water+water" not in names(train) | names(val)
    assert "water+water" in names(test) and len(names(test)) > 1  # plus its share of the rest
    assert sorted(train.parent_indices.tolist() + val.parent_indices.tolist() + test.parent_indices.tolist()) == \
        list(range(len(ds)))
    with pytest.raises(ValueError, match=r"held-out molecules \['benzene\+water'\] are not in"):
        ds.split(held_out=["benzene+water"])


def test_fragment_charges_must_add_up():
    import numpy as np

    from openmm_range.data import Frames

    frames = Frames.from_arrays(z=[8, 1, 1, 8, 1, 1], pos=np.random.default_rng(0).normal(size=(6, 3)) * 3,
                                energy=[0.0], forces=np.zeros((6, 3)), n_atoms=[6], charge=[0])
    frames.fragment = np.array([0, 0, 0, 1, 1, 1])
    frames.fragment_charge = np.array([1, 1, 1, 0, 0, 0])
    with pytest.raises(ValueError, match="do not add up to its total charge 0"):
        frames.validate()
    frames.fragment_charge = np.array([1, 1, 1, -1, -1, -1])
    frames.validate()
