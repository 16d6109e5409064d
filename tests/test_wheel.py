"""The wheel and the sdist ship the models, and an installed wheel runs MLPotential('range-schnet').

The wheel is built once per module (``pip wheel --no-build-isolation``: offline, with the
setuptools of this environment) from a fresh copy of the checkout, so that no build output
left in the checkout (``build/``) can stand in for what setup.py copies. It is installed with
``pip install --target`` into a folder outside the checkout, and evaluated there by a
subprocess whose working directory is outside the checkout too; its other dependencies come
from this environment's site-packages.
"""
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from openmm_range.registry import POTENTIAL_NAMES

REPO = Path(__file__).resolve().parent.parent
#: Left out of the source copy at any depth: environment, VCS, caches, build outputs.
COPY_IGNORE_ANYWHERE = shutil.ignore_patterns(".venv", ".git", "*.egg-info", "__pycache__", "*.pyc", ".pytest_cache")
#: Left out at the top of the checkout only: the large folders packaging never reads (datasets,
#: training runs) and outputs (a package folder of the same name, openmm_range/data, is kept).
COPY_IGNORE_TOP = {"build", "dist", "output", "data", "runs"}


def _copy_ignore(directory, names):
    top = COPY_IGNORE_TOP & set(names) if Path(directory).resolve() == REPO else set()
    return set(COPY_IGNORE_ANYWHERE(directory, names)) | top
#: Environment of the pip calls: no index, no prompts, no version check.
PIP_ENV = {**os.environ, "PIP_NO_INDEX": "1", "PIP_NO_INPUT": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}

#: Evaluates range-schnet on dha.pdb (energy kJ/mol, forces kJ/mol/nm) on the Reference platform
#: and prints one JSON line with the results and where the package and the model came from.
#: argv[1] == "installed": the editable install's import hook is removed first, so that no
#: module of openmm_range can come from the checkout.
EVALUATE = r"""
import json, sys
if sys.argv[1] == "installed":
    sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable__")]
from pathlib import Path
import torch
torch.set_num_threads(1)
import openmm, openmm.app as app, openmm.unit as unit
from openmmml import MLPotential
import openmm_range
from openmm_range.openmm.model_files import shipped_model_path
pdb = app.PDBFile(str(Path(openmm_range.__file__).parent / "resources" / "dha.pdb"))
system = MLPotential("range-schnet").createSystem(pdb.topology, backend="python")
context = openmm.Context(system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference"))
context.setPositions(pdb.positions)
state = context.getState(getEnergy=True, getForces=True)
modules = sorted({getattr(m, "__file__", None) or "" for n, m in list(sys.modules.items())
                  if n == "openmm_range" or n.startswith("openmm_range.")})
print(json.dumps({
    "package": openmm_range.__file__,
    "modules": modules,
    "model": str(shipped_model_path("range-schnet").resolve()),
    "energy": state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole),
    "forces": state.getForces(asNumpy=True).value_in_unit(unit.kilojoule_per_mole / unit.nanometer).tolist(),
}))
"""


def _copy_sources(dst: Path) -> Path:
    shutil.copytree(REPO, dst, ignore=_copy_ignore)
    return dst


def _pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, env=PIP_ENV,
                          timeout=600)


def _build_wheel(source: Path, out: Path) -> subprocess.CompletedProcess:
    return _pip("wheel", "--no-deps", "--no-build-isolation", "--no-cache-dir", "-w", str(out), str(source))


def _only_wheel(folder: Path) -> Path:
    wheels = sorted(folder.glob("openmm_range-*.whl"))
    assert len(wheels) == 1, f"expected one openmm_range wheel in {folder}, found {wheels}"
    return wheels[0]


def _shipped_names():
    """The files a build must ship: each potential's model file and its model card."""
    return [f"{name}{ext}" for name in POTENTIAL_NAMES for ext in (".pt", ".md")]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("wheel-build")
    built = _build_wheel(_copy_sources(work / "src"), work / "dist")
    assert built.returncode == 0, f"pip wheel failed:\n{built.stdout[-3000:]}\n{built.stderr[-3000:]}"
    return _only_wheel(work / "dist")


@pytest.fixture(scope="module")
def site(wheel, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("wheel-install") / "site"
    installed = _pip("install", "--no-deps", "--no-compile", "--target", str(target), str(wheel))
    assert installed.returncode == 0, \
        f"pip install --target failed:\n{installed.stdout[-3000:]}\n{installed.stderr[-3000:]}"
    return target


def _evaluate(mode: str, cwd: Path, pythonpath=None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["OMP_NUM_THREADS"] = "1"
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    run = subprocess.run([sys.executable, "-c", EVALUATE, mode], cwd=cwd, env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, f"evaluation ({mode}) failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    return json.loads(run.stdout.strip().splitlines()[-1])


def _inside(path: str, folder: Path) -> bool:
    return Path(path).resolve().is_relative_to(folder.resolve())


def test_wheel_contains_every_shipped_model(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [f for f in _shipped_names() if f"openmm_range/serialized_models/{f}" not in names]
    assert not missing, f"{wheel.name} lacks {missing}"
    assert "openmm_range/resources/dha.pdb" in names
    assert {"openmm_range/data/__init__.py", "openmm_range/data/generate/spec.py",
            "openmm_range/data/readers/sgdml.py"} <= names  # the data tools ship too
    assert not any(n.startswith("serialized_models/") for n in names), "models must live inside the package"


def test_wheel_declares_the_gpu_and_torchforce_extras(wheel):
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        lines = archive.read(metadata).decode().splitlines()
    extras = {line.split(":", 1)[1].strip() for line in lines if line.startswith("Provides-Extra:")}
    assert {"torchforce", "cuda12", "cuda13", "torchforce-cuda12", "torchforce-cuda13"} <= extras
    requires = " | ".join(line.lower() for line in lines if line.startswith("Requires-Dist:"))
    for major in ("12", "13"):
        assert f"openmm-cuda-{major}==8.6.1" in requires and f"openmm-torch-cuda-{major}==1.5" in requires
    default = [line for line in lines if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert not any("openmmtorch" in line or "cuda" in line.lower() for line in default), \
        f"openmmtorch and the CUDA plugins must stay optional: {default}"


def test_installed_wheel_evaluates_range_schnet_like_the_checkout(site, tmp_path):
    installed = _evaluate("installed", tmp_path, pythonpath=site)
    assert _inside(installed["package"], site), f"openmm_range was imported from {installed['package']}, not {site}"
    outside = [m for m in installed["modules"] if not _inside(m, site)]
    assert not outside, f"modules imported from outside the installed copy: {outside}"
    assert installed["model"] == str((site / "openmm_range" / "serialized_models" / "range-schnet.pt").resolve())

    checkout = _evaluate("checkout", tmp_path, pythonpath=REPO)  # the checkout however this environment installed it
    assert _inside(checkout["package"], REPO) and not _inside(checkout["package"], site)

    forces = np.asarray(installed["forces"])
    assert forces.shape == (56, 3)
    assert np.isfinite(installed["energy"]) and np.isfinite(forces).all()
    assert np.abs(forces).max() > 0.0
    ref_forces = np.asarray(checkout["forces"])
    assert installed["energy"] == pytest.approx(checkout["energy"], rel=1e-6, abs=1e-3)
    assert np.abs(forces - ref_forces).max() <= 1e-5 * np.abs(ref_forces).max() + 1e-4


def test_build_without_models_is_a_clear_error(tmp_path):
    source = _copy_sources(tmp_path / "src")
    for model in (source / "serialized_models").glob("*.pt"):
        model.unlink()
    built = _build_wheel(source, tmp_path / "dist")
    assert built.returncode != 0
    assert "holds no .pt model files" in built.stdout + built.stderr
    assert not list((tmp_path / "dist").glob("*.whl"))


def test_sdist_carries_the_models_and_builds_a_wheel_with_them(tmp_path):
    source = _copy_sources(tmp_path / "src")
    made = subprocess.run([sys.executable, "setup.py", "-q", "sdist", "--dist-dir", str(tmp_path / "sdist")],
                          cwd=source, capture_output=True, text=True, timeout=600, env=PIP_ENV)
    assert made.returncode == 0, f"setup.py sdist failed:\n{made.stdout[-3000:]}\n{made.stderr[-3000:]}"
    (sdist,) = (tmp_path / "sdist").glob("openmm_range-*.tar.gz")
    with tarfile.open(sdist) as archive:
        members = {m.split("/", 1)[1] for m in archive.getnames() if "/" in m}
    missing = [f for f in _shipped_names() if f"serialized_models/{f}" not in members]
    assert not missing, f"{sdist.name} lacks {missing}"
    assert {"setup.py", "MANIFEST.in", "openmm_range/resources/dha.pdb"} <= members

    built = _build_wheel(sdist, tmp_path / "dist")  # what `pip install openmm-range-X.tar.gz` does
    assert built.returncode == 0, f"pip wheel of the sdist failed:\n{built.stdout[-3000:]}\n{built.stderr[-3000:]}"
    names = set(zipfile.ZipFile(_only_wheel(tmp_path / "dist")).namelist())
    assert "openmm_range/serialized_models/range-schnet.pt" in names
