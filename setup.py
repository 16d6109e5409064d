"""Packaging of openmm-range.

The shipped models stay at the repository's top level in ``serialized_models/`` (where
``openmm-range publish`` writes them, one ``NAME.pt`` plus its model card ``NAME.md``).
``build_py`` copies them into the built package as ``openmm_range/serialized_models/``, so a
wheel (``pip wheel .``, ``pip install .``) ships them as package data; ``MANIFEST.in`` puts
the folder into the sdist, from which the same copy happens. An editable install copies
nothing: it reads the checkout's ``serialized_models/`` (see
``openmm_range/openmm/model_files.py``).

GPU machines add OpenMM's CUDA platform with the ``cuda12`` or ``cuda13`` extra, and
openmmtorch's CUDA plugin with ``torchforce-cuda12`` / ``torchforce-cuda13`` (README).
"""
import glob
import os

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py
from setuptools.errors import FileError

ROOT = os.path.dirname(os.path.abspath(__file__))
#: Top-level folder holding the shipped models, and where they go inside the package.
MODELS_SOURCE = "serialized_models"
MODELS_TARGET = ("openmm_range", "serialized_models")
#: What of MODELS_SOURCE is shipped: the model files and their model cards.
MODEL_PATTERNS = ("*.pt", "*.md")


def shipped_model_files():
    """Sorted paths of the files in MODELS_SOURCE that the wheel ships (MODEL_PATTERNS)."""
    found = set()
    for pattern in MODEL_PATTERNS:
        found.update(p for p in glob.glob(os.path.join(ROOT, MODELS_SOURCE, pattern)) if os.path.isfile(p))
    return sorted(found)


class BuildPyWithModels(build_py):
    """``build_py`` that also copies ``serialized_models/`` into the built ``openmm_range`` package."""

    def _model_targets(self):
        target_dir = os.path.join(self.build_lib, *MODELS_TARGET)
        return [(src, os.path.join(target_dir, os.path.basename(src))) for src in shipped_model_files()]

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # the editable install reads the checkout's serialized_models/ directly
        targets = self._model_targets()
        if not any(src.endswith(".pt") for src, _ in targets):
            raise FileError(f"{os.path.join(ROOT, MODELS_SOURCE)} holds no .pt model files: the package would ship "
                            f"no models; restore the folder (git checkout -- {MODELS_SOURCE}) or publish models into "
                            f"it with `openmm-range publish`")
        self.mkpath(os.path.dirname(targets[0][1]))
        for src, dst in targets:
            self.copy_file(src, dst, preserve_mode=False)

    def get_outputs(self, include_bytecode=True):
        outputs = super().get_outputs(include_bytecode)
        if getattr(self, "editable_mode", False):
            return outputs
        return outputs + [dst for _, dst in self._model_targets()]


TORCHFORCE = ["openmmtorch==1.5"]  # binary-bound to torch 2.9.x


def cuda_extras():
    """Extras for OpenMM's CUDA platform (cudaXX) and openmmtorch's CUDA plugin (torchforce-cudaXX).

    OpenMM's plugins must match its version exactly, so each extra pins openmm too. There are
    no macOS builds of the CUDA plugins.
    """
    extras = {}
    for major in ("12", "13"):
        cuda = ["openmm==8.6.1", f"openmm-cuda-{major}==8.6.1; platform_system != 'Darwin'"]
        extras[f"cuda{major}"] = cuda
        extras[f"torchforce-cuda{major}"] = (TORCHFORCE + cuda
                                             + [f"openmm-torch-cuda-{major}==1.5; platform_system != 'Darwin'"])
    return extras


setup(
    name="openmm-range",
    version="0.1.0",
    description="RANGE long-range machine-learned force fields (SchNet/PaiNN + attention master nodes) for OpenMM",
    packages=find_packages(include=["openmm_range", "openmm_range.*"]),
    python_requires=">=3.10",
    install_requires=["torch>=2.9", "numpy", "openmm>=8.6.1", "openmmml>=1.8", "torch-geometric", "mdtraj",
                      "matplotlib", "pyyaml", "tqdm"],
    extras_require={
        "torchforce": TORCHFORCE,
        "data": ["tblite", "rdkit", "gfnff", "h5py", "ase"],
        **cuda_extras(),
    },
    package_data={"openmm_range": ["resources/*"]},
    cmdclass={"build_py": BuildPyWithModels},
    entry_points={
        "console_scripts": ["openmm-range=openmm_range.cli.main:main"],
        "openmmml.potentials": [
            "range-schnet=openmm_range.openmm.potential:RangePotentialImplFactory",
            "range-painn=openmm_range.openmm.potential:RangePotentialImplFactory",
            "schnet=openmm_range.openmm.potential:RangePotentialImplFactory",
            "painn=openmm_range.openmm.potential:RangePotentialImplFactory",
            "schnet-long=openmm_range.openmm.potential:RangePotentialImplFactory",
        ],
    },
)
