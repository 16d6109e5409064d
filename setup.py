from setuptools import find_packages, setup

setup(
    name="openmm-range",
    version="0.1.0",
    description="RANGE long-range machine-learned force fields (SchNet/PaiNN + attention master nodes) for OpenMM",
    packages=find_packages(include=["openmm_range", "openmm_range.*"]),
    python_requires=">=3.10",
    install_requires=["torch>=2.9", "numpy", "openmm>=8.6.1", "openmmml>=1.8", "torch-geometric", "mdtraj",
                      "matplotlib", "pyyaml", "tqdm"],
    extras_require={
        "torchforce": ["openmmtorch==1.5"],  # binary-bound to torch 2.9.x
        "data": ["tblite", "rdkit", "gfnff", "h5py", "ase"],
    },
    package_data={"openmm_range": ["resources/*"]},
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
