"""``simulate --constraints hbonds``: X-H bonds held at their minimised lengths, the default time
step that follows from the choice, the checkpoint that carries the lengths, and refused input."""
import json
import logging
import zipfile

import mdtraj
import numpy as np
import pytest

from openmm_range.openmm.simulation import SimulationConfig, constrain_hbonds, hbond_pairs, run_simulation


def config(pdb, model_file, tmp_path, **overrides):
    base = dict(pdb=pdb, model="range-schnet", model_path=model_file, steps=40, platform="CPU", backend="python",
                report_interval=10, dcd=tmp_path / "run.dcd", seed=3, progress=False,
                max_bond_stretch=0)  # an untrained model: its bonds do not hold, which the constraints show
    return SimulationConfig(**{**base, **overrides})


def xh_lengths(dcd, pdb):
    traj = mdtraj.load(str(dcd), top=str(pdb))
    pairs = np.array([(a.index, b.index) for a, b in traj.topology.bonds
                      if (a.element.symbol == "H") != (b.element.symbol == "H")])
    return mdtraj.compute_distances(traj, pairs)  # (frames, B) nm


def test_hbonds_hold_and_free_bonds_move(tmp_path, peptide_pdb, model_files):
    held = config(peptide_pdb, model_files["range-schnet"], tmp_path / "held", constraints="hbonds",
                  checkpoint=tmp_path / "held" / "run.chk")
    (tmp_path / "held").mkdir()
    summary = run_simulation(held)
    assert held.timestep_fs == 2.0  # the default with constrained X-H bonds
    assert summary["steps_run"] == 40
    lengths = xh_lengths(held.dcd, peptide_pdb)
    assert lengths.shape == (4, 12)  # alanine dipeptide: 12 X-H bonds
    meta = json.loads(zipfile.ZipFile(held.checkpoint).read("meta.json"))
    saved = np.array(meta["constraints"]["lengths_nm"])
    assert len(meta["constraints"]["pairs"]) == 12 and meta["settings"]["constraints"] == "hbonds"
    assert np.abs(lengths - saved).max() < 1e-5  # every frame at the minimised lengths

    free = config(peptide_pdb, model_files["range-schnet"], tmp_path / "free")
    (tmp_path / "free").mkdir()
    run_simulation(free)
    assert free.timestep_fs == 1.0  # the default with free X-H bonds
    moved = xh_lengths(free.dcd, peptide_pdb)
    assert np.abs(moved - moved[0]).max() > 1e-3  # without constraints the same bonds do move


def test_constrained_run_resumes_with_its_lengths(tmp_path, peptide_pdb, model_files):
    first = config(peptide_pdb, model_files["range-schnet"], tmp_path, constraints="hbonds", steps=20,
                   checkpoint=tmp_path / "run.chk", checkpoint_interval=10, resume=True)
    run_simulation(first)
    saved = json.loads(zipfile.ZipFile(tmp_path / "run.chk").read("meta.json"))["constraints"]
    more = config(peptide_pdb, model_files["range-schnet"], tmp_path, constraints="hbonds", steps=40,
                  checkpoint=tmp_path / "run.chk", checkpoint_interval=10, resume=True)
    summary = run_simulation(more)
    assert summary["resumed_from_step"] == 20 and summary["steps_run"] == 20
    lengths = xh_lengths(more.dcd, peptide_pdb)
    assert lengths.shape[0] == 4
    assert np.abs(lengths - np.array(saved["lengths_nm"])).max() < 1e-5
    # the free run cannot continue a constrained one
    free = config(peptide_pdb, model_files["range-schnet"], tmp_path, timestep_fs=2.0, steps=60,
                  checkpoint=tmp_path / "run.chk", resume=True)
    with pytest.raises(ValueError, match="constraints: checkpoint 'hbonds', now None"):
        run_simulation(free)


def test_free_bonds_at_2fs_warn(tmp_path, peptide_pdb, model_files, caplog):
    with caplog.at_level(logging.WARNING, logger="openmm_range"):
        run_simulation(config(peptide_pdb, model_files["range-schnet"], tmp_path, timestep_fs=2.0, steps=10))
    assert "2 fs step with free X-H bonds" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="openmm_range"):
        run_simulation(config(peptide_pdb, model_files["range-schnet"], tmp_path, steps=10, overwrite=True))
    assert "free X-H bonds" not in caplog.text


@pytest.mark.parametrize("overrides, message", [
    (dict(constraints="allbonds"), r"constraints must be one of \['none', 'hbonds'\], got 'allbonds'"),
    (dict(constraints="none", ml_chain=0), "constraints='none' is not possible with ml_chain"),
])
def test_bad_constraints_are_refused(tmp_path, peptide_pdb, model_files, overrides, message):
    with pytest.raises(ValueError, match=message):
        config(peptide_pdb, model_files["range-schnet"], tmp_path, **overrides).check()


def test_hbond_pairs_pick_bonds_to_hydrogen(peptide):
    topology, _ = peptide
    pairs = hbond_pairs(topology)
    atoms = list(topology.atoms())
    assert len(pairs) == 12
    assert all((atoms[i].element.symbol == "H") != (atoms[j].element.symbol == "H") for i, j in pairs)


def test_constrain_hbonds_in_a_users_script(peptide, model_files):
    """The helper for one's own OpenMM script: a System from MLPotential, minimised, then constrained."""
    import openmm
    import openmm.unit as unit
    from openmm import app
    from openmmml import MLPotential

    topology, positions = peptide
    system = MLPotential("range-schnet", modelPath=str(model_files["range-schnet"])).createSystem(topology)
    integrator = openmm.LangevinMiddleIntegrator(300 * unit.kelvin, 1 / unit.picosecond, 2 * unit.femtosecond)
    simulation = app.Simulation(topology, system, integrator, openmm.Platform.getPlatformByName("CPU"))
    simulation.context.setPositions(positions * unit.nanometer)
    simulation.minimizeEnergy(maxIterations=20)
    held = constrain_hbonds(system, topology, simulation.context.getState(getPositions=True).getPositions())
    simulation.context.reinitialize(preserveState=True)
    assert system.getNumConstraints() == len(held["pairs"]) == 12
    simulation.step(20)
    xyz = simulation.context.getState(getPositions=True).getPositions(asNumpy=True).value_in_unit(unit.nanometer)
    pairs = np.array(held["pairs"])
    now = np.linalg.norm(xyz[pairs[:, 0]] - xyz[pairs[:, 1]], axis=1)
    assert np.abs(now - np.array(held["lengths_nm"])).max() < 1e-5
    with pytest.raises(ValueError, match="no bonds to hydrogen"):
        constrain_hbonds(openmm.System(), app.Topology(), np.zeros((0, 3)))


@pytest.mark.parametrize("constraints", [None, "hbonds"])
def test_ml_mm_run_holds_the_ml_regions_xh_bonds(tmp_path, model_files, constraints):
    """An ML/MM run (``ml_chain``) keeps the MM force field's X-H constraints inside the ML region
    (openmm-ml's createMixedSystem removes them by default, which left its default 2 fs step with
    free X-H bonds), and ``constraints='hbonds'`` adds no second copy of them (OpenMM refuses a
    System with two constraints between the same atoms)."""
    from openmm_helpers import ALANINE_PDB

    run = config(ALANINE_PDB, model_files["range-schnet"], tmp_path, ml_chain=0, constraints=constraints, steps=20,
                 minimize=False)
    summary = run_simulation(run)
    assert run.timestep_fs == 2.0 and summary["steps_run"] == 20
    traj = mdtraj.load(str(run.dcd), top=str(ALANINE_PDB))
    ml = {a.index for a in traj.topology.chain(0).atoms}
    pairs = np.array([(a.index, b.index) for a, b in traj.topology.bonds
                      if a.index in ml and b.index in ml and (a.element.symbol == "H") != (b.element.symbol == "H")])
    assert len(pairs) == 12  # alanine dipeptide
    lengths = mdtraj.compute_distances(traj, pairs)
    assert np.abs(lengths - lengths[0]).max() < 1e-5
