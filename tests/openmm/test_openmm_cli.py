"""The ``simulate``, ``analyze`` and ``info`` sub-commands, run in-process on tiny inputs."""
import csv
import json
from pathlib import Path

import pytest

from openmm_range.cli.main import main



def test_simulate_then_analyze(tmp_path, peptide_pdb, model_files, capsys):
    dcd, log, summary = tmp_path / "run.dcd", tmp_path / "run.csv", tmp_path / "summary.json"
    code = main(["simulate", "--pdb", str(peptide_pdb), "--model", "range-schnet", "--model-path",
                 str(model_files["range-schnet"]), "--steps", "40", "--timestep-fs", "1", "--report-interval", "10",
                 "--platform", "CPU", "--backend", "python", "--dcd", str(dcd), "--csv", str(log), "--seed", "3",
                 "--no-progress", "--threads", "1", "--json", str(summary),
                 "--max-bond-stretch", "0"])  # an untrained model: its bonds do not hold
    assert code == 0
    out = capsys.readouterr().out
    assert "ns/day on CPU with the python backend" in out
    with open(log) as handle:
        rows = list(csv.reader(handle))
    assert len(rows) == 1 + 4 and "Temperature (K)" in rows[0][5]
    result = json.loads(summary.read_text())
    assert result["steps"] == 40 and result["backend"] == "python" and result["ns_per_day"] > 0

    code = main(["analyze", str(dcd), "--top", str(peptide_pdb), "--out", str(tmp_path / "an")])
    assert code == 0
    with open(tmp_path / "an_rg.csv") as handle:
        rg_rows = list(csv.reader(handle))
    assert rg_rows[0] == ["trajectory", "time_ps", "rg_nm"] and len(rg_rows) == 1 + 4
    assert rg_rows[1][0] == "run" and float(rg_rows[1][1]) == pytest.approx(0.01)  # first frame after 10 fs
    assert 0.1 < float(rg_rows[1][2]) < 1.0
    assert (tmp_path / "an_rg.png").stat().st_size > 1000

    # several trajectories: one CSV and one overlaid plot, rows labelled by trajectory
    other = tmp_path / "copy.dcd"
    other.write_bytes(dcd.read_bytes())
    assert main(["analyze", str(dcd), str(other), "--top", str(peptide_pdb), "--out", str(tmp_path / "both"),
                 "--levels", "2.0,3.0"]) == 0
    with open(tmp_path / "both_rg.csv") as handle:
        both = list(csv.reader(handle))[1:]
    assert [r[0] for r in both] == ["run"] * 4 + ["copy"] * 4
    assert [r[1:] for r in both[:4]] == [r[1:] for r in both[4:]] == [r[1:] for r in rg_rows[1:]]
    assert main(["analyze", str(dcd), "--top", str(peptide_pdb), "--levels", "two"]) == 2
    assert "--levels must be comma-separated numbers" in capsys.readouterr().err


def test_info_prints_metadata(model_files, capsys):
    assert main(["info", str(model_files["range-painn"])]) == 0
    out = capsys.readouterr().out
    assert "range-painn" in out and "cutoff:        5.0 Å" in out and "H C N O" in out
    assert main(["info", str(model_files["schnet"]), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "schnet"


@pytest.mark.parametrize("argv, message", [
    (["--platform", "Quantum"], "platform 'Quantum' is not available here"),
    (["--temperature", "-5"], "temperature must be a positive number"),
    (["--ml-chain", "9"], "ml_chain 9 does not exist"),
    (["--seed", "0"], "seed must be a whole number from 1 to 2147483647"),
    (["--seed", "2147483648"], "seed must be a whole number from 1 to 2147483647"),
    (["--mm-forcefield", "amber14-all.xml"], "--mm-forcefield applies only with --ml-chain"),
    (["--checkpoint-interval", "100"], "--checkpoint-interval applies only with --checkpoint"),
])
def test_simulate_bad_input_is_a_clear_error(argv, message, peptide_pdb, model_files, capsys):
    code = main(["simulate", "--pdb", str(peptide_pdb), "--model", "range-schnet", "--model-path",
                 str(model_files["range-schnet"]), "--steps", "1", "--no-progress", *argv])
    assert code == 2
    assert message in capsys.readouterr().err


def test_simulate_stops_when_a_bond_breaks(tmp_path, peptide_pdb, model_files, capsys):
    """A bond leaving its minimised length by more than --max-bond-stretch stops the run with a clear
    error; the frames written so far are kept. (A limit of 1e-4 Å trips on ordinary vibration.)"""
    dcd = tmp_path / "run.dcd"
    args = ["simulate", "--pdb", str(peptide_pdb), "--model", "range-schnet", "--model-path",
            str(model_files["range-schnet"]), "--steps", "40", "--timestep-fs", "1", "--report-interval", "10",
            "--platform", "CPU", "--backend", "python", "--dcd", str(dcd), "--seed", "3", "--no-progress",
            "--overwrite"]
    assert main(args + ["--max-bond-stretch", "0.0001"]) == 1
    err = capsys.readouterr().err
    assert "changed by" in err and "at step 10 (0.010 ps)" in err and "--max-bond-stretch 0" in err
    assert dcd.stat().st_size > 0
    assert main(args + ["--max-bond-stretch", "0"]) == 0  # off
    assert main(args + ["--max-bond-stretch", "-1"]) == 2
    assert "max_bond_stretch must be >= 0" in capsys.readouterr().err
    # a break at the run's last report, after which OpenMM asks no reporter for another one
    last = [a if a != "40" else "10" for a in args]
    assert main(last + ["--max-bond-stretch", "0.0001"]) == 1
    assert "at step 10 (0.010 ps)" in capsys.readouterr().err


def test_a_broken_bond_says_how_far_the_run_got(tmp_path, peptide_pdb, model_files):
    """BondBrokenError carries the MD steps run and their wall time (benchmarks time stopped runs
    as finished ones, not with set-up and minimisation counted in)."""
    from openmm_range.openmm.simulation import BondBrokenError, SimulationConfig, run_simulation

    config = SimulationConfig(pdb=peptide_pdb, model="range-schnet", model_path=model_files["range-schnet"],
                              steps=40, timestep_fs=1.0, report_interval=10, platform="CPU", backend="python",
                              seed=3, progress=False, max_bond_stretch=0.0001)
    with pytest.raises(BondBrokenError) as caught:
        run_simulation(config)
    assert caught.value.steps_run == 10 and caught.value.wall_s > 0
    # steps after the last report are checked as well (5 steps, reports every 10: none at all)
    config.steps = 5
    with pytest.raises(BondBrokenError, match="at step 5 "):
        run_simulation(config)


def test_simulate_refuses_what_would_lose_or_miss_its_output(tmp_path, peptide_pdb, model_files, capsys):
    """An existing trajectory is not replaced without --overwrite (and stays as it was); outputs
    that would get no frame, paths that are directories, a PDB without atoms and a misspelt model
    name are clear errors before anything runs."""
    dcd, csv_path = tmp_path / "run.dcd", tmp_path / "run.csv"
    args = ["simulate", "--pdb", str(peptide_pdb), "--model", "range-schnet", "--model-path",
            str(model_files["range-schnet"]), "--steps", "10", "--report-interval", "5", "--platform", "CPU",
            "--backend", "python", "--max-bond-stretch", "0", "--no-progress", "--seed", "1"]
    assert main(args + ["--dcd", str(dcd), "--csv", str(csv_path)]) == 0
    first = dcd.read_bytes()
    capsys.readouterr()
    assert main(args + ["--dcd", str(dcd), "--seed", "2"]) == 2
    assert "exists and this run would replace it: pass --overwrite" in capsys.readouterr().err
    assert dcd.read_bytes() == first
    assert main(args + ["--dcd", str(dcd), "--seed", "2", "--overwrite"]) == 0 and dcd.read_bytes() != first
    for extra, message in ((["--csv", str(tmp_path / "new.csv"), "--report-interval", "50"],
                            "steps (10) is below report_interval (50): the CSV would get no frame"),
                           (["--dcd", str(tmp_path)], "is a directory: give a file path"),
                           (["--json", str(tmp_path)], "is a directory: give a file path")):
        assert main(args + extra) == 2
        assert message in capsys.readouterr().err
    empty = tmp_path / "empty.pdb"
    empty.write_text("REMARK nothing here\nEND\n")
    assert main([a if a != str(peptide_pdb) else str(empty) for a in args]) == 2
    assert "holds no ATOM or HETATM records" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([a if a != "range-schnet" else "range-schnett" for a in args])
    assert "invalid choice: 'range-schnett'" in capsys.readouterr().err


def test_analyze_names_trajectories_apart_and_refuses_empty_ones(tmp_path, peptide_pdb, model_files, capsys):
    """Two trajectories with the same file name are labelled by path (not merged); an empty DCD
    (a run that wrote no frame) and a selection mdtraj cannot parse are clear, short errors."""
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        assert main(["simulate", "--pdb", str(peptide_pdb), "--model", "range-schnet", "--model-path",
                     str(model_files["range-schnet"]), "--steps", "10", "--report-interval", "5", "--platform", "CPU",
                     "--backend", "python", "--max-bond-stretch", "0", "--no-progress",
                     "--dcd", str(tmp_path / run / "traj.dcd")]) == 0
    paths = [str(tmp_path / run / "traj.dcd") for run in ("a", "b")]
    assert main(["analyze", *paths, "--top", str(peptide_pdb), "--out", str(tmp_path / "both")]) == 0
    with open(tmp_path / "both_rg.csv") as handle:
        labels = [row[0] for row in list(csv.reader(handle))[1:]]
    assert labels == [paths[0]] * 2 + [paths[1]] * 2
    # a DCD (frame times in its header) beside a PDB (none): every series is numbered by frame
    assert main(["analyze", paths[0], str(peptide_pdb), "--top", str(peptide_pdb), "--out", str(tmp_path / "mix")]) == 0
    with open(tmp_path / "mix_rg.csv") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][1] == "time_frame" and [row[1] for row in rows[1:]] == ["0", "1", "0"]
    (tmp_path / "empty.dcd").write_bytes(b"")
    capsys.readouterr()
    assert main(["analyze", str(tmp_path / "empty.dcd"), "--top", str(peptide_pdb)]) == 2
    assert "is empty (no frames were written to it)" in capsys.readouterr().err
    assert main(["analyze", paths[0], "--top", str(peptide_pdb), "--selection", "name =="]) == 2
    err = capsys.readouterr().err
    assert "is not a valid mdtraj atom selection (mdtraj cannot parse it)" in err and len(err) < 400


def test_simulate_report_interval_is_free_without_a_checkpoint(tmp_path, peptide_pdb, model_files, capsys):
    """Only a checkpointed run needs its checkpoint interval to be a multiple of the report interval."""
    args = ["simulate", "--pdb", str(peptide_pdb), "--model", "range-schnet", "--model-path",
            str(model_files["range-schnet"]), "--steps", "6", "--report-interval", "3", "--platform", "CPU",
            "--backend", "python", "--max-bond-stretch", "0", "--no-progress"]
    assert main(args) == 0  # 3 does not divide the default checkpoint interval (10000)
    capsys.readouterr()
    assert main(args + ["--checkpoint", str(tmp_path / "run.chk")]) == 2
    assert "checkpoint_interval must be a positive multiple of report_interval (3)" in capsys.readouterr().err
    same = str(tmp_path / "out.dat")  # one file for both outputs would be written by two handles
    assert main(args + ["--dcd", same, "--csv", same]) == 2
    assert "dcd and csv are the same file" in capsys.readouterr().err


def test_platform_auto_prefers_cuda_then_cpu():
    from openmm_range.openmm.simulation import auto_platform_name, available_platforms, select_platform

    assert auto_platform_name(["Reference", "CPU", "OpenCL", "CUDA"]) == "CUDA"
    assert auto_platform_name(["Reference", "CPU", "OpenCL"]) == "CPU"  # OpenCL is skipped on purpose
    assert auto_platform_name(["Reference"]) == "Reference"
    with pytest.raises(ValueError, match="platform 'auto' found none of"):
        auto_platform_name(["OpenCL"])
    present = available_platforms()
    chosen = select_platform("auto").getName()
    assert chosen in present
    assert (chosen == "CUDA") == ("CUDA" in present)


def test_an_ml_chain_bonded_to_another_chain_is_refused_clearly(peptide, model_files):
    """openmm-ml caps a bond across the ML/MM boundary with a link atom (an extra particle);
    simulate does not place link atoms, so such a chain is refused by name (it failed in
    setPositions with a bare particle-count mismatch)."""
    import openmm.app as app

    from openmm_range.openmm.simulation import SimulationConfig, build_system

    source, _ = peptide
    topology = app.Topology()
    chains = [topology.addChain(), topology.addChain()]
    atoms = {}
    for residue in source.residues():
        chain = chains[1] if residue.name == "NME" else chains[0]  # the C-terminal cap in a chain of its own
        new = topology.addResidue(residue.name, chain)
        for atom in residue.atoms():
            atoms[atom.index] = topology.addAtom(atom.name, atom.element, new)
    for a, b in source.bonds():
        topology.addBond(atoms[a.index], atoms[b.index])
    config = SimulationConfig(pdb=Path("unused.pdb"), model="range-schnet", model_path=model_files["range-schnet"],
                              ml_chain=0, backend="python", mm_forcefield=("amber14-all.xml",))
    with pytest.raises(ValueError, match=r"ml_chain 0 is bonded to atoms outside it \(1 bond"):
        build_system(config, topology)


def test_progress_of_a_resumed_run_counts_from_its_checkpoint():
    """ns/day of a run resumed at step 90 counts the steps it ran, not the 90 before."""
    from openmm_range.openmm.simulation import ProgressReporter

    import time

    progress = ProgressReporter(5, 10, 1.0, 3, show=False, start_step=90)
    progress._start_wall = time.perf_counter() - 100.0  # started 100 s ago: the two calls share the wall time
    ratio = progress.ns_per_day(100) / progress.ns_per_day(95)
    assert ratio == pytest.approx(2.0, rel=0.05)  # 10 steps against 5 (counted from 0: 100 against 95)


def test_bond_lengths_take_the_minimum_image_in_a_periodic_system():
    """A molecule wrapped atom by atom into its box has bonds across the faces: their lengths (the
    bond guard's reference and check) are minimum-image, not the box-long raw difference."""
    import numpy as np
    import openmm
    import openmm.unit as unit

    from openmm_range.openmm.simulation import bond_lengths

    system = openmm.System()
    for _ in range(2):
        system.addParticle(1.0)
    force = openmm.CustomBondForce("0")
    force.addBond(0, 1)
    force.setUsesPeriodicBoundaryConditions(True)
    system.addForce(force)
    system.setDefaultPeriodicBoxVectors(openmm.Vec3(3, 0, 0), openmm.Vec3(0.5, 3, 0), openmm.Vec3(0.3, 0.2, 3))
    context = openmm.Context(system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference"))
    context.setPositions([openmm.Vec3(0.05, 0.05, 0.05), openmm.Vec3(2.95 + 0.3, 0.05 + 0.2, 2.96)] * unit.nanometer)
    lengths = bond_lengths(system, context.getState(getPositions=True), np.array([[0, 1]]))
    assert lengths[0] == pytest.approx(np.linalg.norm([-0.1, 0.0, -0.09]), abs=1e-9)  # across the c face
    system.removeForce(0)  # no periodic force: the raw difference
    assert bond_lengths(system, context.getState(getPositions=True), np.array([[0, 1]]))[0] > 2.9


def test_rg_of_a_periodic_trajectory_wrapped_atom_by_atom(tmp_path):
    """A periodic trajectory whose molecule was wrapped into the box atom by atom (split across
    the faces) gives the molecule's own radius of gyration, not a box-sized one."""
    import mdtraj
    import numpy as np

    from openmm_range.openmm.analysis import radius_of_gyration
    from openmm_range.structures import dha_pdb_path

    whole = mdtraj.load(str(dha_pdb_path()))
    box = 3.0  # nm
    split = whole.xyz - whole.xyz[0, 0] + np.array([2.95, 1.5, 1.5])  # the molecule straddles the x face
    split = split - np.floor(split / box) * box
    traj = mdtraj.Trajectory(split, whole.topology, unitcell_lengths=[[box] * 3], unitcell_angles=[[90.0] * 3])
    assert np.ptp(traj.xyz[0, :, 0]) > 2.0  # really split
    traj.save_dcd(str(tmp_path / "split.dcd"))
    traj[0].save_pdb(str(tmp_path / "split.pdb"))
    _, rg, _ = radius_of_gyration(tmp_path / "split.dcd", tmp_path / "split.pdb")
    assert rg[0] == pytest.approx(float(mdtraj.compute_rg(whole)[0]), abs=1e-4)
