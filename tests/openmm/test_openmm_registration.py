"""openmm-ml registration, model-file lookup, and clear errors for bad input."""
import logging
import openmm
import openmm.app as app
import pytest
from openmmml import MLPotential

from openmm_range.openmm import model_files
from openmm_range.openmm.backends import BACKENDS
from openmm_range.openmm.potential import RangePotentialImpl, RangePotentialImplFactory
from openmm_range.registry import POTENTIAL_NAMES

from openmm_helpers import make_model_file, peptide_only


@pytest.mark.parametrize("name", POTENTIAL_NAMES)
def test_every_model_name_is_registered_through_the_entry_point(name):
    assert isinstance(MLPotential._implFactories.get(name), RangePotentialImplFactory)


@pytest.mark.parametrize("name", POTENTIAL_NAMES)
def test_every_name_has_a_shipped_model(name):
    assert model_files.shipped_model_path(name).is_file()
    assert isinstance(MLPotential(name)._impl, RangePotentialImpl)


def test_a_missing_shipped_model_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(model_files, "SHIPPED_DIRS", (tmp_path,))  # an installation without model files
    with pytest.raises(FileNotFoundError, match="modelPath") as info:
        MLPotential("range-schnet")
    assert "no shipped 'range-schnet' model" in str(info.value) and str(tmp_path) in str(info.value)


@pytest.mark.parametrize("name", POTENTIAL_NAMES)
def test_model_path_loads_user_file(name, model_files):
    architecture = POTENTIAL_NAMES[name]
    impl = MLPotential(name, modelPath=str(model_files[architecture]))._impl
    assert impl.metadata["name"] == architecture
    assert impl.getMLLongRange() is False


def test_model_of_another_architecture_is_refused(model_files):
    with pytest.raises(ValueError, match="holds a 'painn' model.*range-schnet"):
        MLPotential("range-schnet", modelPath=str(model_files["painn"]))


def test_schnet_long_takes_schnet_files_only(model_files):
    with pytest.raises(ValueError, match="holds a 'range-schnet' model.*schnet-long"):
        MLPotential("schnet-long", modelPath=str(model_files["range-schnet"]))


def test_missing_model_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        MLPotential("range-schnet", modelPath=str(tmp_path / "nope.pt"))


def test_not_a_model_file(tmp_path):
    bogus = tmp_path / "bogus.pt"
    bogus.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not an openmm-range model file"):
        MLPotential("range-schnet", modelPath=str(bogus))


def test_unknown_potential_argument(model_files):
    with pytest.raises(ValueError, match="unknown argument.*modelPth.*accepted: modelPath"):
        MLPotential("range-schnet", modelPth=str(model_files["range-schnet"]))


def test_create_system_refuses_arguments_that_would_change_the_result_if_ignored(model_files, peptide, caplog):
    """modelPath belongs to MLPotential (given to createSystem the shipped model would run), and a
    near-miss of an accepted argument (a typo) is refused; other unknown arguments (another
    potential's, e.g. ANI's implementation) are ignored with a warning, as openmm-ml does."""
    topology, _ = peptide
    potential = MLPotential("range-schnet", modelPath=str(model_files["range-schnet"]))
    with pytest.raises(ValueError, match="modelPath is an argument of MLPotential, not of createSystem"):
        potential.createSystem(topology, modelPath=str(model_files["range-schnet"]))
    with pytest.raises(ValueError, match="'precison'.*did you mean 'precision'"):
        potential.createSystem(topology, precison="double")
    with caplog.at_level(logging.WARNING):
        system = potential.createSystem(topology, backend="python", implementation="torchani")
    assert "ignoring unknown argument(s) ['implementation']" in caplog.text
    assert any(force.getName() == "RANGE PythonForce" for force in system.getForces())


def test_create_mixed_system_options_given_to_create_system_are_warned_about(model_files, peptide, caplog):
    """interpolate / embedding / removeConstraints are createMixedSystem's own parameters: given to
    createSystem they change nothing, so they are named in a warning rather than passed over."""
    import logging

    topology, _ = peptide
    potential = MLPotential("range-schnet", modelPath=str(model_files["range-schnet"]))
    with caplog.at_level(logging.WARNING, logger="openmm_range"):
        potential.createSystem(topology, backend="python", interpolate=True, embedding="mechanical")
    assert "ignoring unknown argument(s) ['embedding', 'interpolate']" in caplog.text


def test_element_the_model_was_not_trained_on_names_atom_and_element(model_dir, peptide):
    topology, _ = peptide
    no_nitrogen = make_model_file(model_dir, "range-schnet", seed=3, elements=[1, 6, 8])
    potential = MLPotential("range-schnet", modelPath=str(no_nitrogen))
    first_n = next(a for a in topology.atoms() if a.element.symbol == "N")
    with pytest.raises(ValueError) as info:
        potential.createSystem(topology, backend="python")
    message = str(info.value)
    assert f"atom {first_n.index} (N of {first_n.residue.name}" in message
    assert "N (Z=7)" in message and "not trained on" in message and "H, C, O" in message


def test_atom_without_element_is_refused(model_files):
    topology = app.Topology()
    residue = topology.addResidue("X", topology.addChain())
    topology.addAtom("C1", app.element.carbon, residue)
    topology.addAtom("EP", None, residue)
    potential = MLPotential("schnet", modelPath=str(model_files["schnet"]))
    with pytest.raises(ValueError, match=r"atom 1 \(EP of X .*has no element"):
        potential.createSystem(topology, backend="python")


@pytest.mark.parametrize("kwargs, pattern", [
    ({"backend": "torch"}, "unknown backend 'torch'; accepted: " + ", ".join(BACKENDS)),
    ({"precision": "half"}, "unknown precision 'half'; accepted: single, double"),
    ({"cudaGraphWarmupSteps": 0}, "cudaGraphWarmupSteps must be a positive integer"),
])
def test_bad_create_system_arguments(model_files, peptide, kwargs, pattern):
    topology, _ = peptide
    potential = MLPotential("range-schnet", modelPath=str(model_files["range-schnet"]))
    with pytest.raises(ValueError, match=pattern):
        potential.createSystem(topology, **kwargs)


@pytest.mark.parametrize("atoms, pattern", [
    ([0, 1, 1], "atom index 1 is listed twice"),
    ([0, 10_000], "atom index 10000 is outside the topology"),
    ([0, 1.5], "atoms must be atom indices"),
    ([], "the ML region is empty"),
])
def test_bad_ml_atoms(model_files, peptide, atoms, pattern):
    topology, _ = peptide
    system = openmm.System()
    for _ in range(topology.getNumAtoms()):
        system.addParticle(1.0)
    impl = MLPotential("range-schnet", modelPath=str(model_files["range-schnet"]))._impl
    with pytest.raises(ValueError, match=pattern):
        impl.addForces(topology, system, atoms, 0, backend="python")


def test_box_smaller_than_twice_the_cutoff_is_refused(model_files, alanine_pdb):
    topology, _ = peptide_only(alanine_pdb, periodic=True)
    topology.setPeriodicBoxVectors([openmm.Vec3(0.9, 0, 0), openmm.Vec3(0, 3, 0), openmm.Vec3(0, 0, 3)])
    potential = MLPotential("range-schnet", modelPath=str(model_files["range-schnet"]))
    with pytest.raises(ValueError, match="box is too small.*cutoff 5 Å"):
        potential.createSystem(topology, backend="python")

