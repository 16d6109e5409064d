"""The generator, end to end on a tiny spec with real RDKit, GFN-FF and tblite GFN2-xTB:
structure counts, provenance, labels against finite differences, resumption after an
interruption (bit-for-bit identical chunks), refusal of a changed spec, dimers."""
import json
import os
import shutil

import numpy as np
import pytest
import yaml

from openmm_range.data import load_dataset
from openmm_range.data import store
from openmm_range.data.generate.md import atomic_masses, langevin_frames
from openmm_range.data.generate.potentials import XTBPotential
from openmm_range.data.generate.runner import generate
from openmm_range.data.generate.spec import load_spec, parse_spec
from openmm_range.data.generate.tasks import plan_tasks
from openmm_range.units import ANGSTROM_PER_BOHR, EV_PER_HARTREE


def test_generated_dataset_contents(tiny_generated):
    spec_path, out_dir, summary = tiny_generated
    spec = load_spec(spec_path)
    tasks = plan_tasks(spec)
    assert summary["tasks_remaining"] == 0 and len(tasks) == 4  # 2 molecules x 2 conformers
    ds = load_dataset(out_dir)
    # each task: 2 temperatures x 3 MD frames + 1 displacement (all SCFs converge here)
    assert len(ds) == sum(t.n_structures for t in tasks) == 4 * 7
    assert ds.stats["elements"] == [1, 6, 8]
    assert sorted(set(ds.frames.charge.tolist())) == [-1, 0]  # acetate carries its SMILES charge
    meta = ds.metadata
    assert meta["label"]["method"] == "GFN2-xTB" and meta["label"]["accuracy"] == 0.01
    assert meta["runs"][0]["versions"]["tblite"] not in ("", "not installed")
    assert meta["spec"]["seed"] == 7 and len(meta["spec_sha256"]) == 64
    assert [m["name"] for m in meta["molecules"]] == ["ethanol", "acetate"]
    assert meta["content_hash"] == ds.content_hash and meta["stats"]["n_structures"] == len(ds)
    info = store.read_chunk_info(store.list_chunks(out_dir)[0])
    assert [t["kind"] for t in info["sampling"]] == ["md", "md", "displace"]
    infos = [store.read_chunk_info(c) for c in store.list_chunks(out_dir)]  # which conformer started each task
    assert all(i["conformer"] == i["replica"] % i["conformers_built"] for i in infos)
    assert all(1 <= i["conformers_built"] <= 2 for i in infos)


def test_spot_check_forces_match_finite_differences(tiny_generated):
    _, out_dir, _ = tiny_generated
    check = store.read_meta(out_dir)["spot_check"]
    assert check["summary"]["components"] == 6
    assert check["summary"]["passed"], check
    assert check["summary"]["max_abs_error_eV_per_A"] < 2e-3
    assert check["summary"]["max_energy_reproduction_error_eV"] < 1e-3


def test_stored_labels_equal_a_fresh_tblite_calculation(tiny_generated):
    _, out_dir, _ = tiny_generated
    frames = load_dataset(out_dir).frames
    from tblite.interface import Calculator

    off = frames.offsets
    s = 5
    z, pos = frames.z[off[s] : off[s + 1]], frames.pos[off[s] : off[s + 1]]
    calc = Calculator("GFN2-xTB", z, pos / ANGSTROM_PER_BOHR, charge=float(frames.charge[s]))
    calc.set("verbosity", 0)
    calc.set("accuracy", 0.01)
    res = calc.singlepoint()
    assert frames.energy[s] == pytest.approx(res.get("energy") * EV_PER_HARTREE, abs=1e-5)
    np.testing.assert_allclose(
        frames.forces[off[s] : off[s + 1]], -res.get("gradient") * EV_PER_HARTREE / ANGSTROM_PER_BOHR, atol=1e-4
    )


def test_resume_after_interruption_is_bit_for_bit(tiny_generated, tmp_path):
    spec_path, out_dir, _ = tiny_generated
    copy_dir = str(tmp_path / "copy")
    shutil.copytree(out_dir, copy_dir)
    chunks = store.list_chunks(copy_dir)
    os.remove(chunks[2])  # this task was "in flight" when the generator was killed
    # a write killed half-way leaves atomic_write's temporary file beside the chunk
    from openmm_range.files import TMP_SUFFIX

    partial = os.path.join(os.path.dirname(chunks[3]), f".{os.path.basename(chunks[3])}.k1ll3d{TMP_SUFFIX}")
    with open(partial, "wb") as handle:
        handle.write(b"half a chunk")
    old_style = os.path.join(copy_dir, "meta.json.tmp-99999")  # an older version's name
    with open(old_style, "w") as handle:
        handle.write("{")
    summary = generate(spec_path, out_dir=copy_dir, workers=1, progress=False, finalize_when_done=False, log=lambda *a: None)
    assert summary["structures_this_run"] == 7 and summary["tasks_remaining"] == 0
    assert not os.path.exists(partial) and not os.path.exists(old_style)
    with np.load(chunks[2], allow_pickle=False) as new:
        with np.load(store.chunk_path(out_dir, 2), allow_pickle=False) as old:
            assert sorted(new.files) == sorted(old.files)
            for key in old.files:
                if key == "info_json":  # the task's timings differ from run to run
                    continue
                np.testing.assert_array_equal(new[key], old[key], err_msg=key)
    assert load_dataset(copy_dir).content_hash == load_dataset(out_dir).content_hash
    assert len(json.loads(open(os.path.join(copy_dir, "meta.json")).read())["runs"]) == 2


def test_changed_spec_is_refused(tiny_generated, tmp_path):
    spec_path, out_dir, _ = tiny_generated
    data = yaml.safe_load(open(spec_path))
    data["seed"] = 8
    other = tmp_path / "changed.yaml"
    other.write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError, match="different spec"):
        generate(str(other), out_dir=out_dir, progress=False, log=lambda *a: None)


def test_max_tasks_and_two_workers(tmp_path, tiny_generated):
    spec_path, out_dir, _ = tiny_generated
    target = str(tmp_path / "par")
    first = generate(spec_path, out_dir=target, workers=1, max_tasks=1, progress=False, log=lambda *a: None)
    assert first["tasks_remaining"] == 3
    rest = generate(spec_path, out_dir=target, workers=2, progress=False, finalize_when_done=False, log=lambda *a: None)
    assert rest["tasks_remaining"] == 0
    assert load_dataset(target).content_hash == load_dataset(out_dir).content_hash


def test_dimer_dataset(tiny_dimers):
    _, out_dir, summary = tiny_dimers
    assert summary["tasks_remaining"] == 0
    ds = load_dataset(out_dir)
    meta = ds.metadata
    assert [m["name"] for m in meta["molecules"]] == ["water+methanol", "water+water", "water (alone)",
                                                      "methanol (alone)"]
    assert meta["molecules"][0]["fragments"] == [3, 6] and meta["molecules"][3]["fragments"] == [6]
    assert ds.stats["n_min"] == 3 and ds.stats["n_max"] == 9
    assert ds.stats["molecule_n_min"] == 3 and ds.stats["molecule_n_max"] == 6
    names = [ds.molecules[m] for m in ds.frames.mol_id]
    assert names.count("water (alone)") == 2 and names.count("methanol (alone)") == 2
    # every atom knows its molecule: dimers are two, monomers one
    frames = ds.frames
    for i, name in enumerate(names):
        fragment = frames.fragment[frames.offsets[i]:frames.offsets[i + 1]]
        expected = {"water+methanol": [0] * 3 + [1] * 6, "water+water": [0] * 3 + [1] * 3}.get(name, [0] * len(fragment))
        assert fragment.tolist() == expected
    infos = [store.read_chunk_info(path) for path in store.list_chunks(out_dir)]
    gaps = [g for info in infos for g in info.get("gap", [])]
    assert len(gaps) == names.count("water+methanol") + names.count("water+water")
    assert min(gaps) > 1.0 and max(gaps) < 41.5  # placed in [2, 12] or [12, 40] A, then 5 MD steps
    assert max(gaps) > 13.5  # far_fraction: some pairs beyond gap_max
    transfer = [q for info in infos for q in info.get("charge_transfer", [])]
    assert len(transfer) == len(gaps) and max(abs(q) for q in transfer) <= 0.02


def test_spec_errors(tmp_path, tiny_spec):
    with pytest.raises(ValueError, match=r"s\.yaml: missing key 'seed'"):
        parse_spec({"name": "x", "molecules": [{"name": "a", "smiles": "C"}]}, source="s.yaml")
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['temperature'\]"):
        parse_spec({"name": "x", "seed": 1, "temperature": 3}, source="s.yaml")
    with pytest.raises(ValueError, match=r"sampler 'ani' unknown"):
        parse_spec(
            {"name": "x", "seed": 1, "molecules": [{"name": "a", "smiles": "C"}], "sampling": [{"kind": "md", "sampler": "ani"}]},
            source="s.yaml",
        )
    # values of the wrong kind or range are named, never a TypeError later; YAML's 1e-2 (text) is a number
    TINY_SPEC, _ = tiny_spec
    TINY_DIMER_SPEC = {"name": "d", "seed": 1, "dimers": {
        "monomers": [{"name": "water", "smiles": "O"}], "pairs": [["water", "water"]], "gap_min": 2.0, "gap_max": 9.0}}
    parse_spec(TINY_DIMER_SPEC, source="s.yaml")
    assert parse_spec(dict(TINY_SPEC, label={"accuracy": "1e-2"}), source="s.yaml").label.accuracy == 0.01
    one = parse_spec(dict(TINY_SPEC, sampling=[{"kind": "md", "temperatures": 300, "frames": "4"}]), source="s.yaml")
    assert one.sampling[0].temperatures == [300.0] and one.sampling[0].frames == 4
    for change, message in [
        ({"label": {"accuracy": "tight"}}, r"s\.yaml: label\.accuracy must be a number, got 'tight'"),
        ({"sampling": [{"kind": "md", "temperatures": []}]}, "an md step needs at least one temperature"),
        ({"sampling": [{"kind": "md", "frames": 2.5}]}, r"sampling\[0\]\.frames must be a whole number, got 2\.5"),
        ({"sampling": [{"kind": "displace", "temperatures": [300]}]}, r"\['temperatures'\] belong\(s\) to md steps only"),
        ({"sampling": [{"kind": "md", "sigma": 0.1}]}, r"\['sigma'\] belong\(s\) to displace, stretch and contact"),
        ({"conformers": {"n": "four"}}, r"conformers\.n must be a whole number, got 'four'"),
        ({"conformers": {"select": "rg"}}, r"conformers\.select 'rg' unknown; accepted: \['rg_stratified', 'first'\]"),
        ({"seed": [1]}, r"seed must be a whole number >= 0, got \[1\]"),
        ({"spot_check": {"structures": 0}}, "spot_check needs structures >= 1"),
        ({"molecules": [{"name": "a", "smiles": "C", "uhf": 1.5}]}, r"molecules\[0\]: uhf must be a whole number >= 0"),
        ({"molecules": [{"name": "a", "smiles": "C", "uhf": -1}]}, r"molecules\[0\]: uhf must be a whole number >= 0"),
        ({"molecules": [{"name": "a", "smiles": "C", "charge": "x"}]}, r"molecules\[0\]: charge must be a whole number"),
        ({"name": "../../escape"}, r"name must be a plain dataset name .* got '../../escape'"),
        ({"description": __import__("datetime").date(2026, 1, 1)}, r"description must be text \(put it in quotes\)"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_spec(dict(TINY_SPEC, **change), source="s.yaml")
    dimers = TINY_DIMER_SPEC["dimers"]
    for change, message in [
        ({"dimers": dict(dimers, pairs=[5])}, r"dimers\.pairs entry 5 must name two monomers"),
        ({"dimers": dict(dimers, monomers=None)}, r"dimers\.monomers must be a non-empty list, got None"),
        ({"dimers": dict(dimers, gap_max="2O")}, r"dimers\.gap_max must be a number, got '2O'"),
        ({"dimers": dict(dimers, replicas="4x")}, r"dimers\.replicas must be a whole number"),
        ({"sampling": [{"kind": "displace"}]}, "a dimer spec samples by its 'dimers' options"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_spec(dict(TINY_DIMER_SPEC, **change), source="s.yaml")
    (tmp_path / "broken.yaml").write_text("name: [x\n")
    with pytest.raises(ValueError, match="broken.yaml is not valid YAML"):
        load_spec(str(tmp_path / "broken.yaml"))
    with pytest.raises(ValueError, match="RDKit cannot parse SMILES"):
        from openmm_range.data.generate.molecules import parse_smiles

        parse_smiles("C1CC", "broken")


def test_charge_and_spin_must_fit_the_smiles():
    """uhf must have the parity of the electron count (tblite refuses water with uhf 1, and runs a
    methyl radical given uhf 0 as a doublet while the data would say 0): checked by name, before
    the generator writes anything."""
    from openmm_range.data.generate.molecules import check_charge_and_spin

    check_charge_and_spin("methyl", "[CH3]", None, 1)
    with pytest.raises(ValueError, match=r"molecule 'water': 10 electrons cannot have uhf 1 .* 0 radical"):
        check_charge_and_spin("water", "O", None, 1)
    with pytest.raises(ValueError, match=r"molecule 'methyl': 9 electrons cannot have uhf 0 .* 1 radical"):
        check_charge_and_spin("methyl", "[CH3]", None, 0)
    with pytest.raises(ValueError, match="charge 1 given but the SMILES has formal charge 0"):
        check_charge_and_spin("water", "O", 1, 0)


def test_gfn2_sampler_and_md_constants():
    """GFN2-xTB-driven Langevin MD (the 'gfn2' sampler) runs; the unit constants are right."""
    from openmm_range.data.generate.md import ACCEL_EV_PER_ANGSTROM_AMU, BOLTZMANN_EV_PER_K
    from openmm_range.data.generate.molecules import build_molecule

    mol = build_molecule("methanol", "CO", 1, seed=1)
    pot = XTBPotential(mol.z, accuracy=1.0)
    rng = np.random.default_rng(0)
    frames = langevin_frames(pot, mol.conformers[0], atomic_masses(mol.z), 300.0, rng, n_frames=4, stride=5, friction=0.05)
    assert len(frames) == 4
    assert all(np.isfinite(f).all() for f in frames)
    assert ACCEL_EV_PER_ANGSTROM_AMU == pytest.approx(9.64853e-3, rel=1e-5)
    assert BOLTZMANN_EV_PER_K * 300 == pytest.approx(0.025852, rel=1e-4)


def test_failing_task_is_reported_and_others_continue(tmp_path, tiny_spec, monkeypatch):
    """A task that raises (here: the conformer embedding of one molecule, made to fail) is reported
    and retried by the next run; the other molecules' tasks are written."""
    from openmm_range.data.generate import tasks

    base, write_spec = tiny_spec
    spec = dict(base, name="with-bad", molecules=[{"name": "doomed", "smiles": "CO"}, {"name": "ethanol", "smiles": "CCO"}],
                sampling=[{"kind": "displace", "sigma": 0.05, "frames": 2}])
    real = tasks.build_molecule

    def build(name, *args, **kwargs):
        if name == "doomed":
            raise ValueError("molecule 'doomed': RDKit could not embed a 3D conformer")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(tasks, "build_molecule", build)
    spec_path = write_spec(tmp_path, spec)
    messages = []
    summary = generate(spec_path, workers=1, progress=False, log=messages.append)
    assert summary["failed_tasks_this_run"] == 2 and summary["tasks_remaining"] == 2
    assert summary["structures_this_run"] == 4
    assert any("could not embed" in m for m in messages)
    # mistakes the spec shows are refused before anything is written: a charge that does not fit
    # the SMILES, and stretch sampling of a molecule without an X-H bond
    for name, molecule, sampling, message in [
        ("wrong-charge", {"name": "wrong_charge", "smiles": "CCO", "charge": 1}, base["sampling"],
         "charge 1 given but the SMILES has formal charge 0"),
        ("no-xh", {"name": "co2", "smiles": "O=C=O"}, [{"kind": "stretch", "max_length": 2.0, "frames": 1}],
         "molecule 'co2' has no X-H bond, which the spec's stretch sampling moves"),
    ]:
        bad = dict(base, name=name, molecules=[molecule], sampling=sampling)
        with pytest.raises(ValueError, match=message):
            generate(write_spec(tmp_path, bad), workers=1, progress=False, log=messages.append)
        assert not (tmp_path / name).exists()


def test_stretch_sampling_reaches_the_dissociation_side(tmp_path, tiny_spec):
    """``kind: stretch`` frames: each has one X-H bond stretched into [1.15 r0, max_length], and
    GFN2-xTB puts it well above the unstretched molecule (the labels are real tblite)."""
    from openmm_range.data.generate.md import stretched_xh_bonds
    from openmm_range.data.generate.molecules import build_molecule

    mol = build_molecule("methanol", "CO", 1, seed=3)
    start = mol.conformers[0]
    frames = stretched_xh_bonds(start, mol.z, mol.bonds, 20, 2.5, 0.0, np.random.default_rng(0))
    heavy_h = [(i, j) for i, j in zip(*np.nonzero(np.triu(mol.bonds))) if (mol.z[i] == 1) != (mol.z[j] == 1)]

    def lengths(pos):
        return np.array([np.linalg.norm(pos[i] - pos[j]) for i, j in heavy_h])

    r0 = lengths(start)
    for f in frames:
        stretched = lengths(f) / r0 > 1.001
        assert stretched.sum() == 1  # exactly one X-H bond changed, the rest untouched (sigma 0)
        k = int(np.argmax(stretched))
        assert 1.15 * r0[k] - 1e-9 <= lengths(f)[k] <= 2.5 + 1e-9
    # a hydrogen stretched straight at another atom is kept only where it ends at least 0.9 Å from
    # it (only its end point is checked: here every kept frame has it past the other oxygen, a
    # transferred proton, which GFN2-xTB labels like any frame); the other draws are made again
    line = np.array([[0.0, 0.0, 0.0], [0.97, 0.0, 0.0], [2.0, 0.0, 0.0]])  # O-H ... O, in a line
    for f in stretched_xh_bonds(line, np.array([8, 1, 8]), np.array([[0, 1, 0], [1, 0, 0], [0, 0, 0]]), 30, 4.0,
                                0.0, np.random.default_rng(1)):
        assert np.linalg.norm(f[1] - f[2]) >= 0.9 and np.linalg.norm(f[1] - f[0]) >= 2.9
    # no room (every draw ends 0.7-0.9 Å from the other O): the frame is left out, not the task failed
    assert stretched_xh_bonds(line, np.array([8, 1, 8]), np.array([[0, 1, 0], [1, 0, 0], [0, 0, 0]]), 3, 1.3, 0.0,
                              np.random.default_rng(1)) == []
    with pytest.raises(ValueError, match="needs a molecule with an X-H bond"):
        stretched_xh_bonds(start[:2], np.array([6, 8]), np.array([[0, 1], [1, 0]]), 1, 2.5, 0.0,
                           np.random.default_rng(0))

    base, write_spec = tiny_spec
    spec = dict(base, name="stretch", molecules=[{"name": "methanol", "smiles": "CO"}],
                conformers={"n": 1, "candidates": 2, "select": "rg_stratified"},
                sampling=[{"kind": "displace", "sigma": 0.0, "frames": 1},
                          {"kind": "stretch", "sigma": 0.0, "max_length": 2.5, "frames": 3}])
    summary = generate(write_spec(tmp_path, spec), workers=1, progress=False, log=lambda *_: None)
    assert summary["structures_this_run"] == 4
    energies = np.asarray(load_dataset(str(tmp_path / "stretch")).frames.energy)
    assert (energies[1:] - energies[0] > 0.3).all()  # eV: every stretched bond costs energy
    with pytest.raises(ValueError, match="max_length must be between 1.5 and 10"):
        parse_spec(dict(spec, sampling=[{"kind": "stretch", "max_length": 1.0}]), source="s.yaml")
    with pytest.raises(ValueError, match=r"kind must be one of \['md', 'displace', 'stretch', 'contact'\]"):
        parse_spec(dict(spec, sampling=[{"kind": "shake"}]), source="s.yaml")
    with pytest.raises(ValueError, match="max_length belongs to 'stretch' steps only"):
        parse_spec(dict(spec, sampling=[{"kind": "displace", "max_length": 3.0}]), source="s.yaml")
    with pytest.raises(ValueError, match="sigma must be between 0 and 1"):
        parse_spec(dict(spec, sampling=[{"kind": "stretch", "sigma": -0.1}]), source="s.yaml")


def test_contact_sampling_reaches_the_repulsive_side(tmp_path, tiny_spec):
    """``kind: contact`` frames: each moves one hydrogen, either compressing its X-H bond to
    [0.65, 0.9] r0 or putting it [min_distance, 1.8] Å from an atom it is not bonded to, and
    GFN2-xTB puts every such frame above the untouched molecule (real tblite labels)."""
    from openmm_range.data.generate.md import close_contacts
    from openmm_range.data.generate.molecules import build_molecule

    mol = build_molecule("methanol", "CO", 1, seed=3)
    start = mol.conformers[0]
    frames = close_contacts(start, mol.z, mol.bonds, 40, 0.9, 0.0, np.random.default_rng(0))
    kinds = set()
    for f in frames:
        moved = np.nonzero(np.linalg.norm(f - start, axis=1) > 1e-9)[0]
        assert len(moved) == 1 and mol.z[moved[0]] == 1  # one hydrogen moved, nothing else (sigma 0)
        h = int(moved[0])
        heavy = int(np.nonzero(mol.bonds[h])[0][0])
        ratio = np.linalg.norm(f[h] - f[heavy]) / np.linalg.norm(start[h] - start[heavy])
        others = [j for j in range(len(mol.z)) if j != h and not mol.bonds[h, j]]
        nearest = min(np.linalg.norm(f[h] - f[j]) for j in others)
        if 0.65 - 1e-9 <= ratio <= 0.9 + 1e-9 and np.isclose(np.cross(f[h] - f[heavy], start[h] - start[heavy]), 0).all():
            kinds.add("compressed")
        else:
            assert 0.9 - 1e-9 <= nearest <= 1.8 + 1e-9
            kinds.add("contact")
    assert kinds == {"compressed", "contact"}  # both halves occur
    with pytest.raises(ValueError, match="needs a molecule with an X-H bond"):
        close_contacts(start[:2], np.array([6, 8]), np.array([[0, 1], [1, 0]]), 1, 0.9, 0.0, np.random.default_rng(0))

    base, write_spec = tiny_spec
    spec = dict(base, name="contact", molecules=[{"name": "methanol", "smiles": "CO"}],
                conformers={"n": 1, "candidates": 2, "select": "rg_stratified"},
                sampling=[{"kind": "displace", "sigma": 0.0, "frames": 1},
                          {"kind": "contact", "sigma": 0.0, "min_distance": 0.9, "frames": 4}])
    summary = generate(write_spec(tmp_path, spec), workers=1, progress=False, log=lambda *_: None)
    assert summary["structures_this_run"] == 5
    energies = np.asarray(load_dataset(str(tmp_path / "contact")).frames.energy)
    assert (energies[1:] - energies[0] > 0.3).all()  # eV: every contact costs energy
    with pytest.raises(ValueError, match="min_distance must be at least 0.5 and below 1.8"):
        parse_spec(dict(spec, sampling=[{"kind": "contact", "min_distance": 0.3}]), source="s.yaml")
    with pytest.raises(ValueError, match="min_distance belongs to 'contact' steps only"):
        parse_spec(dict(spec, sampling=[{"kind": "stretch", "min_distance": 1.0}]), source="s.yaml")


def test_an_scf_failure_in_the_sampler_ends_the_trajectory_not_the_task():
    """``sampler: gfn2`` MD whose SCF fails part-way keeps the frames made so far (the task used
    to fail, and fail again on every run, since its seed is fixed)."""
    from openmm_range.data.generate.potentials import SCFError

    calls = {"n": 0}

    def harmonic_until_it_fails(pos):
        calls["n"] += 1
        if calls["n"] > 25:
            raise SCFError("SCF not converged")
        return 0.5 * float((pos**2).sum()), -pos

    frames = langevin_frames(harmonic_until_it_fails, np.zeros((3, 3)), np.array([16.0, 1.0, 1.0]), 300.0,
                             np.random.default_rng(0), n_frames=10, stride=5)
    assert len(frames) == 4  # steps 5, 10, 15, 20 of the 24 that ran


def test_an_scf_that_stalls_is_retried_with_a_slower_mixer_to_the_same_label():
    """Water's SCF (accuracy 0.01) from the default guess needs 10 iterations at tblite's damping
    (0.4) and 13 at 0.1: with max_iter 5 only the damped retry (4 x 5 iterations) converges, to
    the same energy and forces. With max_iter 2 (8 on the retry) both fail: SCFError."""
    from openmm_range.data.generate.potentials import SCFError

    z = np.array([8, 1, 1])
    pos = np.array([[0.0, 0.0, 0.0], [0.96, 0.0, 0.0], [-0.24, 0.93, 0.0]])
    reference = XTBPotential(z, accuracy=0.01, reuse_wavefunction=False)(pos)
    stalled = XTBPotential(z, accuracy=0.01, max_iter=5, reuse_wavefunction=False)
    energy, forces = stalled(pos)
    assert energy == pytest.approx(reference[0], abs=1e-6)
    np.testing.assert_allclose(forces, reference[1], atol=1e-5)
    with pytest.raises(SCFError):
        XTBPotential(z, accuracy=0.01, max_iter=2, reuse_wavefunction=False)(pos)
