"""Readers: small files written here in exactly the public layouts, unit conversion, and
clear errors (file and key named) for missing keys, wrong shapes, NaN and mixed sizes."""
import re

import h5py
import numpy as np
import pytest

from openmm_range.data import load_dataset, read_frames, sniff_format
from openmm_range.units import EV_PER_KCAL_PER_MOL

RNG = np.random.default_rng(42)
Z_ASP = np.array([6, 6, 8, 1, 1, 1, 1])


def _sgdml(path, n_frames=5, energy_shape="flat", extra=None, keys=("R", "z", "E", "F")):
    pos = RNG.normal(size=(n_frames, len(Z_ASP), 3))
    energy = RNG.normal(size=n_frames) - 1000.0
    forces = RNG.normal(size=(n_frames, len(Z_ASP), 3))
    arrays = {
        keys[0]: pos,
        keys[1]: Z_ASP,
        keys[2]: energy.reshape(-1, 1) if energy_shape == "column" else energy,
        keys[3]: forces,
        "name": np.array("toy"),
        "theory": np.array("PBE+MBD"),
    }
    arrays.update(extra or {})
    np.savez(path, **arrays)
    return pos, energy, forces


@pytest.mark.parametrize("energy_shape", ["flat", "column"])
def test_sgdml_converts_kcal_to_ev(tmp_path, energy_shape):
    path = str(tmp_path / "md22_toy.npz")
    pos, energy, forces = _sgdml(path, energy_shape=energy_shape)
    assert sniff_format(path) == "sgdml"
    ds = load_dataset(path)
    assert len(ds) == 5
    d = ds[3]
    assert d.z.tolist() == Z_ASP.tolist()
    np.testing.assert_allclose(d.pos.numpy(), pos[3])
    np.testing.assert_allclose(d.energy.item(), energy[3] * EV_PER_KCAL_PER_MOL)
    np.testing.assert_allclose(d.forces.numpy(), forces[3] * EV_PER_KCAL_PER_MOL)
    assert abs(EV_PER_KCAL_PER_MOL - 0.0433641) < 1e-6
    assert ds.metadata["theory"] == "PBE+MBD"


def test_rmd17_keys(tmp_path):
    path = str(tmp_path / "rmd17_toy.npz")
    pos, energy, forces = _sgdml(path, keys=("coords", "nuclear_charges", "energies", "forces"))
    ds = load_dataset(path)
    np.testing.assert_allclose(ds.frames.energy, energy * EV_PER_KCAL_PER_MOL)


def test_sgdml_respects_e_unit(tmp_path):
    path = str(tmp_path / "ev.npz")
    _, energy, _ = _sgdml(path, extra={"e_unit": np.array("eV"), "r_unit": np.array("Ang")})
    np.testing.assert_allclose(load_dataset(path).frames.energy, energy)


def test_sgdml_errors(tmp_path):
    path = str(tmp_path / "nokey.npz")
    np.savez(path, R=np.zeros((2, 3, 3)), z=np.ones(3), E=np.zeros(2))
    with pytest.raises(ValueError, match=r"nokey\.npz.*missing key 'F'"):
        read_frames(path, format="sgdml")
    path = str(tmp_path / "shape.npz")
    np.savez(path, R=np.zeros((2, 3, 3)), z=np.ones(3), E=np.zeros(3), F=np.zeros((2, 3, 3)))
    with pytest.raises(ValueError, match=r"shape\.npz: key 'E' has shape"):
        read_frames(path)
    path = str(tmp_path / "mixed.npz")
    np.savez(path, R=np.zeros((2, 3, 3)), z=np.ones(4), E=np.zeros(2), F=np.zeros((2, 3, 3)))
    with pytest.raises(ValueError, match=r"mixed\.npz: key 'z'.*mixed atom counts"):
        read_frames(path)
    path = str(tmp_path / "nan.npz")
    forces = np.zeros((2, 3, 3))
    forces[1, 2, 0] = np.nan
    np.savez(path, R=np.zeros((2, 3, 3)), z=np.ones(3), E=np.zeros(2), F=forces)
    with pytest.raises(ValueError, match=r"nan\.npz: key 'F' contains NaN"):
        read_frames(path)


def test_pickled_npz_is_refused(tmp_path):
    path = str(tmp_path / "obj.npz")
    np.savez(path, R=np.zeros((2, 3, 3)), z=np.array([1, 1, 1], dtype=object), E=np.zeros(2), F=np.zeros((2, 3, 3)))
    with pytest.raises(ValueError, match="pickle"):
        read_frames(path, format="sgdml")


def _qm7x_file(path, molecules=None, energy_key="ePBE0+MBD", drop=None, nan=False):
    """QM7-X layout: file[mol][conf] groups with atNUM, atXYZ, ePBE0+MBD (length-1), totFOR."""
    molecules = molecules or {"1": [("Geom-m1-i1-c1-opt", 4), ("Geom-m1-i1-c1-d1", 4)], "2": [("Geom-m2-i1-c1-opt", 6)]}
    truth = []
    with h5py.File(path, "w") as f:
        for mol, confs in molecules.items():
            g = f.create_group(mol)
            for conf, n in confs:
                c = g.create_group(conf)
                z = np.array([6] + [1] * (n - 1))
                pos = RNG.normal(size=(n, 3))
                forces = RNG.normal(size=(n, 3))
                energy = np.array([RNG.normal() - 500.0])
                if nan:
                    forces[0, 0] = np.nan
                data = {"atNUM": z, "atXYZ": pos, energy_key: energy, "totFOR": forces, "eAT": energy + 400.0, "eMBD": np.array([-0.1])}
                for key, val in data.items():
                    if key != drop:
                        c.create_dataset(key, data=val)
                truth.append(((mol, conf), z, pos, energy[0], forces))
    return sorted(truth, key=lambda t: t[0])  # h5py lists groups in name order


def test_qm7x_reader(tmp_path):
    path = str(tmp_path / "1000.hdf5")
    truth = _qm7x_file(path)
    assert sniff_format(path) == "qm7x"
    ds = load_dataset(path)
    assert len(ds) == 3
    assert ds.molecules == ["1", "2"]
    assert ds.frames.mol_id.tolist() == [0, 0, 1]
    for i, (_, z, pos, energy, forces) in enumerate(truth):
        d = ds[i]
        assert d.z.tolist() == z.tolist()
        np.testing.assert_allclose(d.pos.numpy(), pos)
        np.testing.assert_allclose(d.energy.item(), energy)  # eV in, eV out
        np.testing.assert_allclose(d.forces.numpy(), forces)
    assert len(load_dataset(path, min_atoms=5)) == 1
    assert len(load_dataset(path, energy_key="eAT")) == 3


def test_qm7x_directory_and_aqm_name(tmp_path):
    _qm7x_file(str(tmp_path / "1000.hdf5"))
    _qm7x_file(str(tmp_path / "2000.hdf5"), molecules={"3": [("Geom-m3-i1-c1-opt", 5)]})
    assert len(load_dataset(str(tmp_path))) == 4
    aqm = str(tmp_path / "AQM-gas.hdf5")
    _qm7x_file(aqm, molecules={"100": [("conf-1", 31), ("conf-2", 31)], "101": [("conf-1", 12)]})
    assert sniff_format(aqm) == "aqm"
    assert load_dataset(aqm, min_atoms=30).stats["n_min"] == 31


def test_qm7x_errors(tmp_path):
    path = str(tmp_path / "missing.hdf5")
    _qm7x_file(path, drop="totFOR")
    with pytest.raises(ValueError, match=r"missing\.hdf5:/1/Geom-m1-i1-c1-d1: missing key 'totFOR'"):
        read_frames(path, format="qm7x")
    path = str(tmp_path / "AQM-nan.hdf5")
    _qm7x_file(path, nan=True)
    with pytest.raises(ValueError, match=r"AQM-nan\.hdf5:/1/.*key 'totFOR' contains NaN"):
        read_frames(path, format="aqm")
    path = str(tmp_path / "noenergy.hdf5")
    _qm7x_file(path, energy_key="eDFTB+MBD")
    with pytest.raises(ValueError, match=r"missing key 'ePBE0\+MBD'; present: \[.*'eDFTB\+MBD'"):
        read_frames(path, format="aqm")


def _atoms(n, with_calc=True, key_energy=None):
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator

    atoms = Atoms(numbers=[8] + [1] * (n - 1), positions=RNG.normal(size=(n, 3)))
    energy, forces = float(RNG.normal() - 100), RNG.normal(size=(n, 3))
    if with_calc:
        atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=forces)
    if key_energy:
        atoms.info[key_energy] = energy
        atoms.arrays["REF_forces"] = forces
    return atoms, energy, forces


def test_extxyz_reader_mixed_sizes(tmp_path):
    import ase.io

    path = str(tmp_path / "frames.xyz")
    items = [_atoms(n) for n in (3, 5, 3)]
    for atoms, _, _ in items:
        atoms.info["charge"] = 0
    ase.io.write(path, [a for a, _, _ in items], format="extxyz")
    ds = load_dataset(path)
    assert ds.frames.n_atoms.tolist() == [3, 5, 3]
    assert ds.frames.mol_id.tolist() == [0, 1, 0]  # grouped by atom sequence
    for i, (_, energy, forces) in enumerate(items):
        np.testing.assert_allclose(ds[i].energy.item(), energy, rtol=1e-9)
        np.testing.assert_allclose(ds[i].forces.numpy(), forces, atol=1e-6)


def test_extxyz_custom_keys_and_units(tmp_path):
    import ase.io

    path = str(tmp_path / "ref.extxyz")
    items = [_atoms(4, with_calc=False, key_energy="REF_energy") for _ in range(2)]
    ase.io.write(path, [a for a, _, _ in items], format="extxyz")
    ds = load_dataset(path, energy_unit="kcal/mol")
    np.testing.assert_allclose(ds.frames.energy, [e * EV_PER_KCAL_PER_MOL for _, e, _ in items], rtol=1e-9)
    np.testing.assert_allclose(ds[1].forces.numpy(), items[1][2] * EV_PER_KCAL_PER_MOL, atol=1e-6)


def test_extxyz_missing_energy(tmp_path):
    import ase.io

    path = str(tmp_path / "bare.xyz")
    ase.io.write(path, [_atoms(3, with_calc=False)[0]], format="extxyz")
    with pytest.raises(ValueError, match=r"bare\.xyz: frame 0: no energy"):
        read_frames(path)


def test_ase_db_reader(tmp_path):
    import ase.db

    path = str(tmp_path / "train.db")
    items = [_atoms(n) for n in (3, 6)]
    with ase.db.connect(path) as db:
        for k, (atoms, _, _) in enumerate(items):
            db.write(atoms, mol_id=f"mol{k}", total_charge=-1 if k else 0)
    assert sniff_format(path) == "ase-db"
    ds = load_dataset(path)
    assert ds.frames.charge.tolist() == [0, -1]
    assert ds.molecules == ["mol0", "mol1"]
    for i, (_, energy, forces) in enumerate(items):
        np.testing.assert_allclose(ds[i].energy.item(), energy)
        np.testing.assert_allclose(ds[i].forces.numpy(), forces)
    bad = str(tmp_path / "noforces.db")
    with ase.db.connect(bad) as db:
        db.write(_atoms(3, with_calc=False)[0], energy_ref=1.0)
    with pytest.raises(ValueError, match=r"noforces\.db: row id 1: no energy"):
        read_frames(bad)
    with pytest.raises(ValueError, match=r"noforces\.db: row id 1: no forces"):
        read_frames(bad, energy_key="energy_ref")


def test_unknown_format(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("1,2\n")
    with pytest.raises(ValueError, match=r"x\.csv: cannot tell the dataset format; give it \(--format on the command line, format= in "):
        load_dataset(str(path))
    with pytest.raises(ValueError, match="unknown dataset format 'csv'"):
        load_dataset(str(path), format="csv")


def test_periodic_frames_are_refused(tmp_path):
    """A periodic extxyz frame (a DFT box) is refused by name: Frames carry no cell, and training
    on its forces as if it were a molecule in vacuum would be silently wrong."""
    import ase.io

    path = str(tmp_path / "box.xyz")
    atoms, _, _ = _atoms(3)
    atoms.set_cell([10.0, 10.0, 10.0])
    atoms.pbc = True
    ase.io.write(path, [_atoms(3)[0], atoms], format="extxyz")
    with pytest.raises(ValueError, match=r"box\.xyz: frame 1: periodic \(pbc=\[True, True, True\]\)"):
        read_frames(path)


@pytest.mark.parametrize("name, content, fmt", [
    ("empty.npz", b"", None),                              # sniffed: neither range-npz nor sgdml
    ("md22_DHA.npz", b"PK\x03\x04truncated", "sgdml"),     # a half-downloaded archive
    ("empty.npz", b"", "range-npz"),
    ("meta.json", b'{"name": "dha-xtb"}', None),           # sniffed as an ASE database by its suffix
    ("notes.db", b"not a database at all" * 10, None),
    ("frames.xyz", b"1\nProperties=species:S:1:pos:R:3 energy=1.0\nH 0 0 0\n", "sgdml"),  # told the wrong format
    ("junk.hdf5", b"not hdf5" * 8, "qm7x"),
])
def test_empty_truncated_or_foreign_files_are_named(tmp_path, name, content, fmt):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=re.escape(str(path))):
        read_frames(str(path), format=fmt)


def test_integer_fields_that_are_not_whole_numbers_are_refused(tmp_path):
    """An atomic number of 8.7 is not read as oxygen, a charge of 'neutral' or 0.5 is not read as
    0, and atomic numbers stored as element symbols are named, each with the file."""
    import ase.io

    path = str(tmp_path / "frac.npz")
    np.savez(path, R=np.zeros((2, 3, 3)), z=np.array([8.7, 1.0, 1.0]), E=np.zeros(2), F=np.zeros((2, 3, 3)))
    with pytest.raises(ValueError, match=r"frac\.npz: z \(atomic numbers\) must be whole numbers.*8\.7"):
        read_frames(path)
    for value in ("neutral", 0.5):
        atoms, _, _ = _atoms(3)
        atoms.info["charge"] = value
        path = str(tmp_path / "charge.xyz")
        ase.io.write(path, [atoms], format="extxyz")
        with pytest.raises(ValueError, match=r"charge\.xyz: frame 0: key 'charge' is .*must be a whole number"):
            read_frames(path)
    path = str(tmp_path / "symbols.hdf5")
    with h5py.File(path, "w") as f:
        c = f.create_group("1").create_group("Geom-m1-i1-c1-opt")
        for key, val in {"atNUM": np.array([b"O", b"H", b"H"]), "atXYZ": np.zeros((3, 3)),
                         "ePBE0+MBD": np.array([-1.0]), "totFOR": np.zeros((3, 3))}.items():
            c.create_dataset(key, data=val)
    with pytest.raises(ValueError, match=r"symbols\.hdf5:/1/Geom-m1-i1-c1-opt: atNUM must hold atomic numbers"):
        read_frames(path, format="qm7x")
