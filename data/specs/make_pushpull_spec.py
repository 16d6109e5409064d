"""Write data/specs/pushpull-xtb.yaml: the molecule list of the push-pull polyene set.

The second study set of the convergence issue: a set whose labels carry a force signal from
beyond the 15 Å receptive field of a 3 x 5 Å message-passing network. All-trans polyenes
D-(CH=CH)n-A with a donor D in {H, NH2, NMe2, OMe} at one end, an acceptor A in {H, NO2, CHO,
CN} at the other and n in {7, 9, 11} (end-to-end about 19-29 Å): the pi system carries the
push-pull polarisation along the chain, so what sits at one end moves the forces at the other
(docs/data.md, section 7, measured before generation). All molecules are neutral, so a
model's total-charge input tells it nothing about the ends. The YAML it writes is the
committed, authoritative spec; run this script only to change the list:

    .venv/bin/python data/specs/make_pushpull_spec.py
"""
import os

from rdkit import Chem

DONORS = {"h": "", "nh2": "N", "nme2": "CN(C)", "ome": "CO"}
ACCEPTORS = {"h": "", "no2": "[N+](=O)[O-]", "cho": "C=O", "cn": "C#N"}
LENGTHS = (7, 9, 11)


def polyene(donor: str, acceptor: str, n: int) -> str:
    """All-trans D-(CH=CH)n-A: every double bond written with trans bond directions."""
    chain = "/".join(["C=C"] * n)
    text = (donor + "/" if donor else "") + chain + ("/" + acceptor if acceptor else "")
    return Chem.MolToSmiles(Chem.MolFromSmiles(text))


def molecules():
    out = []
    for n in LENGTHS:
        for dname, donor in DONORS.items():
            for aname, acceptor in ACCEPTORS.items():
                smiles = polyene(donor, acceptor, n)
                mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
                assert Chem.GetFormalCharge(mol) == 0, smiles
                out.append((f"{dname}-c{2 * n}-{aname}", smiles, mol.GetNumAtoms()))
    assert len({s for _, s, _ in out}) == len(out), "duplicate molecules"
    return out


HEADER = """\
# pushpull-xtb: all-trans push-pull polyenes D-(CH=CH)n-A, D in {H, NH2, NMe2, OMe}, A in
# {H, NO2, CHO, CN}, n in {7, 9, 11}: 48 neutral molecules of 30-56 atoms, 19-29 A long.
# The second study set of the convergence issue (docs/data.md, section 7): the pi system carries
# what sits at one end to the other, so the labels hold a force signal from beyond the 15 A
# receptive field of a 3 x 5 A message-passing network. Sampling: 2 ETKDG conformers per
# molecule (the most compact and the most extended of 8); from each, GFN-FF Langevin MD
# (topology fixed to the RDKit graph) at 300 and 500 K, 15 frames
# 40 fs apart after 100 fs, plus 5 random displacements of 0.05 A.
# Labels: tblite GFN2-xTB, accuracy 0.01. 96 tasks x 35 structures = 3,360 structures.
# Written by data/specs/make_pushpull_spec.py.
# Regenerate (resumes if interrupted): openmm-range data generate data/specs/pushpull-xtb.yaml
name: pushpull-xtb
description: "all-trans push-pull polyenes (donor and acceptor ends, 19-29 A), GFN-FF sampled, GFN2-xTB labelled"
seed: 20261202
label: {method: GFN2-xTB, accuracy: 0.01, electronic_temperature: 300, max_iter: 250}
conformers: {n: 2, candidates: 8, select: rg_stratified}
sampling:
  - {kind: md, sampler: gfnff, temperatures: [300, 500], frames: 15, stride: 80,
     equilibration: 200, timestep: 0.5, friction: 0.01}
  - {kind: displace, sigma: 0.05, frames: 5}
spot_check: {structures: 3, components: 6, step: 0.002}
molecules:
"""

if __name__ == "__main__":
    lines = [HEADER.rstrip("\n")]
    for name, smiles, atoms in molecules():
        lines.append(f'  - {{name: {name}, smiles: "{smiles}", charge: 0, uhf: 0}}  # {atoms} atoms')
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pushpull-xtb.yaml")
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print(f"wrote {path}: {len(lines) - 1} molecules")
