"""Write data/specs/stretch-xtb.yaml: stretched X-H bonds of every molecule of the other sets.

The shipped models put a free hydrogen only 0-2 eV above a bonded one, where GFN2-xTB puts it
5.5 eV above (benchmarks/bond_dissociation.py), so MD breaks C-H and O-H bonds. Thermal
sampling never reaches that side of a bond. This set does: the molecules of dha-xtb,
organic-xtb and pushpull-xtb, 2 conformers each, 4 frames per conformer, each frame with
0.05 Å displacements and one X-H bond stretched to a length drawn from [1.15 r0, 4 Å] (where
GFN2-xTB's curve has flattened). The YAML it writes is the committed spec; run this script
only to change it:

    .venv/bin/python data/specs/make_stretch_spec.py
"""
import os

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = ("dha-xtb", "organic-xtb", "pushpull-xtb")


def main() -> None:
    molecules, seen = [], set()
    for name in SOURCES:
        with open(os.path.join(HERE, f"{name}.yaml")) as handle:
            for m in yaml.safe_load(handle)["molecules"]:
                if m["smiles"] not in seen:
                    seen.add(m["smiles"])
                    molecules.append(m)
    spec = {
        "name": "stretch-xtb",
        "description": "stretched X-H bonds of the dha, organic and pushpull molecules, GFN2-xTB labelled",
        "seed": 20261203,
        "label": {"method": "GFN2-xTB", "accuracy": 0.01, "electronic_temperature": 300, "max_iter": 250},
        "conformers": {"n": 2, "candidates": 6, "select": "rg_stratified"},
        "sampling": [{"kind": "stretch", "sigma": 0.05, "max_length": 4.0, "frames": 4}],
        "spot_check": {"structures": 3, "components": 6, "step": 0.002},
        "molecules": molecules,
    }
    header = (f"# stretch-xtb: one X-H bond stretched to [1.15 r0, 4 A] per frame, for the {len(molecules)} molecules of\n"
              f"# {', '.join(SOURCES)}; 2 conformers x 4 frames each = {len(molecules) * 8} structures.\n"
              "# Written by data/specs/make_stretch_spec.py (its docstring says why).\n"
              "# Regenerate (resumes if interrupted): openmm-range data generate data/specs/stretch-xtb.yaml\n")
    with open(os.path.join(HERE, "stretch-xtb.yaml"), "w") as handle:
        handle.write(header + yaml.safe_dump(spec, sort_keys=False, width=120))


if __name__ == "__main__":
    main()
