"""Write data/specs/stretch-xtb.yaml and contact-xtb.yaml: the two sides of the X-H bonds (and the
close contacts) that thermal sampling of the other sets never reaches.

* stretch-xtb: the shipped models put a free hydrogen only 0-2 eV above a bonded one, where
  GFN2-xTB puts it 5.5 eV above (benchmarks/bond_dissociation.py), so MD breaks C-H and O-H
  bonds. Each frame has 0.05 Å displacements and one X-H bond stretched to a length drawn from
  [1.15 r0, 4 Å] (where GFN2-xTB's curve has flattened).
* contact-xtb: every model's energy stops rising, or falls, when a hydrogen is pushed at an atom
  it is not bonded to, 2.5-4.5 eV at 0.7 Å where GFN2-xTB gives 11.6 (benchmarks/close_contacts.py),
  so an overshooting MD step is not pushed back. Each frame has 0.05 Å displacements and one
  hydrogen either with its X-H bond compressed to [0.65, 0.9] r0 or put [0.9, 1.8] Å from a
  non-bonded atom (``kind: contact``).

Both use the molecules of dha-xtb, organic-xtb and pushpull-xtb, 2 conformers each, 4 frames per
conformer. The YAML files it writes are the committed specs; run this script only to change them:

    .venv/bin/python data/specs/make_stretch_spec.py
"""
import os

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = ("dha-xtb", "organic-xtb", "pushpull-xtb")
#: name: (description, seed, sampling step, header line that says what a frame is)
SETS = {
    "stretch-xtb": ("stretched X-H bonds of the dha, organic and pushpull molecules, GFN2-xTB labelled", 20261203,
                    {"kind": "stretch", "sigma": 0.05, "max_length": 4.0, "frames": 4},
                    "one X-H bond stretched to [1.15 r0, 4 A] per frame"),
    "contact-xtb": ("compressed X-H bonds and close non-bonded contacts of the dha, organic and pushpull molecules, "
                    "GFN2-xTB labelled", 20261206,
                    {"kind": "contact", "sigma": 0.05, "min_distance": 0.9, "frames": 4},
                    "one H per frame with its bond compressed to [0.65, 0.9] r0 or [0.9, 1.8] A from a non-bonded atom"),
}


def write(name: str, molecules) -> None:
    description, seed, step, what = SETS[name]
    spec = {
        "name": name,
        "description": description,
        "seed": seed,
        "label": {"method": "GFN2-xTB", "accuracy": 0.01, "electronic_temperature": 300, "max_iter": 250},
        "conformers": {"n": 2, "candidates": 6, "select": "rg_stratified"},
        "sampling": [step],
        "spot_check": {"structures": 3, "components": 6, "step": 0.002},
        "molecules": molecules,
    }
    header = (f"# {name}: {what}, for the {len(molecules)} molecules of\n"
              f"# {', '.join(SOURCES)}; 2 conformers x 4 frames each = {len(molecules) * 8} structures.\n"
              "# Written by data/specs/make_stretch_spec.py (its docstring says why).\n"
              f"# Regenerate (resumes if interrupted): openmm-range data generate data/specs/{name}.yaml\n")
    with open(os.path.join(HERE, f"{name}.yaml"), "w") as handle:
        handle.write(header + yaml.safe_dump(spec, sort_keys=False, width=120))


def main() -> None:
    molecules, seen = [], set()
    for source in SOURCES:
        with open(os.path.join(HERE, f"{source}.yaml")) as handle:
            for m in yaml.safe_load(handle)["molecules"]:
                if m["smiles"] not in seen:
                    seen.add(m["smiles"])
                    molecules.append(m)
    for name in SETS:
        write(name, molecules)


if __name__ == "__main__":
    main()
