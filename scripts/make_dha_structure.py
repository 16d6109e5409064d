"""Regenerate openmm_range/resources/dha.{xyz,pdb}: all-cis docosahexaenoic acid (C22H32O2, 56 atoms).

RDKit ETKDG conformer (seed 42) relaxed with MMFF94; run with the project environment:
    .venv/bin/python scripts/make_dha_structure.py
"""
from pathlib import Path

from rdkit import Chem
from rdkit.Chem import AllChem

SMILES = "CC/C=C\\C/C=C\\C/C=C\\C/C=C\\C/C=C\\C/C=C\\CCC(=O)O"
out = Path(__file__).resolve().parent.parent / "openmm_range" / "resources"
mol = Chem.AddHs(Chem.MolFromSmiles(SMILES))
params = AllChem.ETKDGv3()
params.randomSeed = 42
AllChem.EmbedMolecule(mol, params)
AllChem.MMFFOptimizeMolecule(mol, maxIters=2000)
assert mol.GetNumAtoms() == 56
conf = mol.GetConformer()
lines = [str(mol.GetNumAtoms()), "docosahexaenoic acid (all-cis), RDKit ETKDG seed 42 + MMFF94; Angstrom"]
for atom in mol.GetAtoms():
    p = conf.GetAtomPosition(atom.GetIdx())
    lines.append(f"{atom.GetSymbol():2s} {p.x:12.6f} {p.y:12.6f} {p.z:12.6f}")
(out / "dha.xyz").write_text("\n".join(lines) + "\n")
counts = {}
for atom in mol.GetAtoms():
    sym = atom.GetSymbol()
    counts[sym] = counts.get(sym, 0) + 1
    ri = Chem.AtomPDBResidueInfo(f"{sym}{counts[sym]}".ljust(4)[:4], residueName="DHA", residueNumber=1, chainId="A")
    ri.SetIsHeteroAtom(True)
    atom.SetMonomerInfo(ri)
Chem.MolToPDBFile(mol, str(out / "dha.pdb"))
print("wrote", out / "dha.xyz", out / "dha.pdb")
