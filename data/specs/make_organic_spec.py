"""Write data/specs/organic-xtb.yaml: the molecule list of the organic-xtb dataset.

The list is built here (homologous series generated, the rest written out by hand) and
checked with RDKit: valid SMILES, only H C N O S Cl, 10 to 100 atoms with hydrogens,
unique canonical SMILES. The YAML it writes is the committed, authoritative spec; run
this script only to change the list:

    .venv/bin/python data/specs/make_organic_spec.py
"""
import os
from collections import Counter

from rdkit import Chem

ALLOWED = {"H", "C", "N", "O", "S", "Cl"}
MIN_ATOMS, MAX_ATOMS = 10, 100
AMINO = {  # side chains for Ac-X-NHMe and peptides: (one-letter, residue SMILES fragment N[C@@H](R)C(=O))
    "G": "NCC(=O)", "A": "N[C@@H](C)C(=O)", "V": "N[C@@H](C(C)C)C(=O)", "L": "N[C@@H](CC(C)C)C(=O)",
    "I": "N[C@@H]([C@@H](C)CC)C(=O)", "F": "N[C@@H](Cc1ccccc1)C(=O)", "W": "N[C@@H](Cc1c[nH]c2ccccc12)C(=O)",
    "Y": "N[C@@H](Cc1ccc(O)cc1)C(=O)", "S": "N[C@@H](CO)C(=O)", "T": "N[C@@H]([C@H](O)C)C(=O)",
    "C": "N[C@@H](CS)C(=O)", "M": "N[C@@H](CCSC)C(=O)", "N": "N[C@@H](CC(N)=O)C(=O)",
    "Q": "N[C@@H](CCC(N)=O)C(=O)", "D": "N[C@@H](CC(=O)[O-])C(=O)", "E": "N[C@@H](CCC(=O)[O-])C(=O)",
    "K": "N[C@@H](CCCC[NH3+])C(=O)", "R": "N[C@@H](CCCNC(N)=[NH2+])C(=O)", "H": "N[C@@H](Cc1c[nH]cn1)C(=O)",
    "P": "N1[C@@H](CCC1)C(=O)",
}


def capped(seq: str) -> str:
    """Ac-seq-NHMe."""
    return "CC(=O)" + "".join(AMINO[a] for a in seq) + "NC"


def zwitterion(seq: str) -> str:
    """H3N+-seq-COO- (the first N protonated, the last carbonyl a carboxylate)."""
    body = "".join(AMINO[a] for a in seq)
    body = "[NH3+]" + body[1:] if not body.startswith("N1") else "[NH2+]1" + body[2:]
    return body + "[O-]"


def series():
    out = []
    for n in range(4, 31):
        out.append(("alkanes", f"n-C{n}H{2 * n + 2}", "C" * n))
    for n in range(4, 21, 2):
        out.append(("chains", f"1-alkanol C{n}", "C" * n + "O"))
    for n in range(6, 25, 2):
        out.append(("lipids", f"fatty acid C{n}", "C" * (n - 1) + "C(=O)O"))
        out.append(("lipids", f"carboxylate C{n}", "C" * (n - 1) + "C(=O)[O-]"))
    for n in range(2, 13):
        out.append(("chains", f"PEG{n} dimethyl ether", "CO" + "CCO" * n + "C"))
    for n in (6, 10, 14, 18):
        out.append(("chains", f"alkylamine C{n}", "C" * n + "N"))
        out.append(("chains", f"alkylammonium C{n}", "C" * n + "[NH3+]"))
    for n in (4, 8, 12, 16):
        out.append(("chains", f"alkanethiol C{n}", "C" * n + "S"))
        out.append(("chains", f"dialkyl sulfide C{n}", "C" * (n // 2) + "S" + "C" * (n // 2)))
    for n in (4, 8, 12):
        out.append(("chains", f"1-chloroalkane C{n}", "C" * n + "Cl"))
    for n in range(2, 9):
        out.append(("peptides", f"Ac-Ala{n}-NHMe", capped("A" * n)))
        out.append(("peptides", f"Ac-Gly{n}-NHMe", capped("G" * n)))
    for a in AMINO:
        out.append(("peptides", f"Ac-{a}-NHMe", capped(a)))
    for seq in ("AG", "GA", "VL", "FS", "KE", "DR", "YT", "WG", "MC", "NQ", "HP", "SS", "LK", "EA", "GGG", "AAA",
                "GSG", "KGE", "FGA", "YGG", "GDR", "VVV"):
        out.append(("peptides", f"zwitterion {seq}", zwitterion(seq)))
    for seq in ("AFA", "GWG", "SYT", "KAE", "DAR", "MLV", "NHQ", "PGP", "CAC", "EGK", "RGD", "TTT"):
        out.append(("peptides", f"Ac-{seq}-NHMe", capped(seq)))
    for n in (3, 4, 5, 6, 8, 10):
        out.append(("elongated", f"polyyne H(CC){n}H end-capped methyl", "C" + "C#C" * n + "C"))
    for n in (4, 6, 8, 10):
        out.append(("elongated", f"all-trans polyene C{2 * n}", "C" + "/C=C" * n + "/C"))
    for n in (3, 4, 5, 6):
        out.append(("elongated", f"p-oligophenylene {n}", "c1ccc(cc1)" + "c1ccc(cc1)" * (n - 2) + "c1ccccc1"))
    for n in (2, 3, 4):
        out.append(("elongated", f"oligothiophene {n}", "c1ccc(s1)" + "c1ccc(s1)" * (n - 2) + "c1cccs1"))
    return out


HAND = {
    "lipids": [
        ("oleic acid", "CCCCCCCC/C=C\\CCCCCCCC(=O)O"),
        ("linoleic acid", "CCCCC/C=C\\C/C=C\\CCCCCCCC(=O)O"),
        ("alpha-linolenic acid", "CC/C=C\\C/C=C\\C/C=C\\CCCCCCCC(=O)O"),
        ("arachidonic acid", "CCCCC/C=C\\C/C=C\\C/C=C\\C/C=C\\CCCC(=O)O"),
        ("EPA", "CC/C=C\\C/C=C\\C/C=C\\C/C=C\\C/C=C\\CCCC(=O)O"),
        ("arachidonate", "CCCCC/C=C\\C/C=C\\C/C=C\\C/C=C\\CCCC(=O)[O-]"),
        ("oleate", "CCCCCCCC/C=C\\CCCCCCCC(=O)[O-]"),
        ("1-monopalmitin", "CCCCCCCCCCCCCCCC(=O)OCC(O)CO"),
        ("1-monoolein", "CCCCCCCC/C=C\\CCCCCCCC(=O)OCC(O)CO"),
        ("methyl palmitate", "CCCCCCCCCCCCCCCC(=O)OC"),
        ("methyl oleate", "CCCCCCCC/C=C\\CCCCCCCC(=O)OC"),
        ("sphingosine", "CCCCCCCCCCCCC/C=C/[C@@H](O)[C@@H](N)CO"),
        ("cholesterol", "C[C@H](CCCC(C)C)[C@H]1CC[C@@H]2[C@@]1(CC[C@H]3[C@H]2CC=C4[C@@]3(CC[C@@H](C4)O)C)C"),
        ("dodecyl sulfate", "CCCCCCCCCCCCOS(=O)(=O)[O-]"),
        ("dodecyltrimethylammonium", "CCCCCCCCCCCC[N+](C)(C)C"),
        ("C12E4 surfactant", "CCCCCCCCCCCCOCCOCCOCCOCCO"),
        ("dipalmitoyl-ethanolamine fragment", "CCCCCCCCCCCCCCCC(=O)NCCO"),
        ("anandamide", "CCCCC/C=C\\C/C=C\\C/C=C\\C/C=C\\CCCC(=O)NCCO"),
        ("lipoic acid", "C1CSS[C@@H]1CCCCC(=O)O"),
        ("squalene fragment C15", "CC(C)=CCC/C(C)=C/CC/C(C)=C/C"),
        ("farnesol", "CC(C)=CCC/C(C)=C/CC/C(C)=C/CO"),
        ("retinol", "CC1=C(C(C)(C)CCC1)/C=C/C(C)=C/C=C/C(C)=C/CO"),
        ("glycerol", "OCC(O)CO"),
        ("ethanolamine phosphate-free head (choline)", "C[N+](C)(C)CCO"),
    ],
    "sugars": [
        ("alpha-D-glucose", "OC[C@H]1O[C@H](O)[C@H](O)[C@@H](O)[C@@H]1O"),
        ("beta-D-glucose", "OC[C@H]1O[C@@H](O)[C@H](O)[C@@H](O)[C@@H]1O"),
        ("beta-D-galactose", "OC[C@H]1O[C@@H](O)[C@H](O)[C@@H](O)[C@H]1O"),
        ("alpha-D-mannose", "OC[C@H]1O[C@H](O)[C@@H](O)[C@@H](O)[C@@H]1O"),
        ("beta-D-fructofuranose", "OC[C@H]1O[C@@](O)(CO)[C@@H](O)[C@@H]1O"),
        ("beta-D-ribofuranose", "OC[C@H]1O[C@@H](O)[C@H](O)[C@@H]1O"),
        ("2-deoxyribose", "OC[C@H]1O[C@@H](O)C[C@@H]1O"),
        ("sucrose", "OC[C@H]1O[C@@](CO)(O[C@H]2O[C@H](CO)[C@@H](O)[C@H](O)[C@H]2O)[C@@H](O)[C@@H]1O"),
        ("lactose", "OC[C@H]1O[C@@H](O[C@H]2[C@H](O)[C@@H](O)[C@@H](O)O[C@@H]2CO)[C@H](O)[C@@H](O)[C@H]1O"),
        ("maltose", "OC[C@H]1O[C@H](O[C@H]2[C@H](O)[C@@H](O)[C@@H](O)O[C@@H]2CO)[C@H](O)[C@@H](O)[C@@H]1O"),
        ("cellobiose", "OC[C@H]1O[C@@H](O[C@H]2[C@H](O)[C@@H](O)[C@@H](O)O[C@@H]2CO)[C@H](O)[C@@H](O)[C@@H]1O"),
        ("trehalose", "OC[C@H]1O[C@H](O[C@H]2O[C@H](CO)[C@@H](O)[C@H](O)[C@H]2O)[C@H](O)[C@@H](O)[C@@H]1O"),
        ("glucosamine", "OC[C@H]1O[C@H](O)[C@H](N)[C@@H](O)[C@@H]1O"),
        ("N-acetylglucosamine", "CC(=O)N[C@H]1[C@@H](O)O[C@H](CO)[C@@H](O)[C@@H]1O"),
        ("methyl alpha-glucoside", "CO[C@H]1O[C@H](CO)[C@@H](O)[C@H](O)[C@H]1O"),
        ("myo-inositol", "O[C@H]1[C@H](O)[C@@H](O)[C@H](O)[C@H](O)[C@@H]1O"),
        ("sorbitol", "OC[C@H](O)[C@@H](O)[C@H](O)[C@H](O)CO"),
        ("glucuronate", "O[C@@H]1O[C@@H]([C@@H](O)[C@H](O)[C@H]1O)C(=O)[O-]"),
        ("sialic acid (neutral)", "CC(=O)N[C@@H]1[C@@H](O)C[C@@](O)(O[C@H]1[C@H](O)[C@H](O)CO)C(=O)O"),
        ("glucose 6-sulfate", "OC1O[C@H](COS(=O)(=O)[O-])[C@@H](O)[C@H](O)[C@H]1O"),
        ("ascorbic acid", "OC[C@H](O)[C@H]1OC(=O)C(O)=C1O"),
        ("thioglucose", "OC[C@H]1O[C@@H](S)[C@H](O)[C@@H](O)[C@@H]1O"),
    ],
    "aromatics": [
        ("toluene", "Cc1ccccc1"), ("ethylbenzene", "CCc1ccccc1"), ("p-xylene", "Cc1ccc(C)cc1"),
        ("mesitylene", "Cc1cc(C)cc(C)c1"), ("naphthalene", "c1ccc2ccccc2c1"), ("anthracene", "c1ccc2cc3ccccc3cc2c1"),
        ("phenanthrene", "c1ccc2c(c1)ccc1ccccc12"), ("pyrene", "c1cc2ccc3cccc4ccc(c1)c2c34"),
        ("biphenyl", "c1ccc(cc1)c1ccccc1"), ("diphenylmethane", "c1ccc(cc1)Cc1ccccc1"),
        ("stilbene", "c1ccc(cc1)/C=C/c1ccccc1"), ("indole", "c1ccc2[nH]ccc2c1"), ("quinoline", "c1ccc2ncccc2c1"),
        ("carbazole", "c1ccc2c(c1)[nH]c1ccccc12"), ("dibenzofuran", "c1ccc2c(c1)oc1ccccc12"),
        ("dibenzothiophene", "c1ccc2c(c1)sc1ccccc12"), ("thianthrene", "c1ccc2Sc3ccccc3Sc2c1"),
        ("phenol", "Oc1ccccc1"), ("aniline", "Nc1ccccc1"), ("anilinium", "[NH3+]c1ccccc1"),
        ("benzoic acid", "OC(=O)c1ccccc1"), ("benzoate", "[O-]C(=O)c1ccccc1"), ("anisole", "COc1ccccc1"),
        ("acetophenone", "CC(=O)c1ccccc1"), ("benzamide", "NC(=O)c1ccccc1"), ("nitrobenzene", "[O-][N+](=O)c1ccccc1"),
        ("chlorobenzene", "Clc1ccccc1"), ("1,4-dichlorobenzene", "Clc1ccc(Cl)cc1"),
        ("2,4,6-trichlorophenol", "Oc1c(Cl)cc(Cl)cc1Cl"), ("4-chlorotoluene", "Cc1ccc(Cl)cc1"),
        ("thioanisole", "CSc1ccccc1"), ("thiophenol", "Sc1ccccc1"), ("benzenesulfonate", "[O-]S(=O)(=O)c1ccccc1"),
        ("benzothiazole", "c1ccc2scnc2c1"), ("2-mercaptobenzimidazole", "S=c1[nH]c2ccccc2[nH]1"),
        ("pyridinium", "c1cc[nH+]cc1"), ("4-dimethylaminopyridine", "CN(C)c1ccncc1"), ("acridine", "c1ccc2nc3ccccc3cc2c1"),
        ("tryptamine", "NCCc1c[nH]c2ccccc12"), ("2-naphthol", "Oc1ccc2ccccc2c1"),
        ("4-phenylbutyrate", "[O-]C(=O)CCCc1ccccc1"), ("tetraphenylmethane fragment (triphenylmethane)", "c1ccc(cc1)C(c1ccccc1)c1ccccc1"),
        ("azobenzene", "c1ccc(cc1)/N=N/c1ccccc1"), ("benzophenone", "O=C(c1ccccc1)c1ccccc1"),
        ("fluorenone", "O=C1c2ccccc2-c2ccccc12"), ("phenothiazine", "c1ccc2c(c1)Nc1ccccc1S2"),
    ],
    "drug-like": [
        ("aspirin", "CC(=O)Oc1ccccc1C(=O)O"), ("paracetamol", "CC(=O)Nc1ccc(O)cc1"),
        ("ibuprofen", "CC(C)Cc1ccc(cc1)[C@@H](C)C(=O)O"), ("naproxen", "COc1ccc2cc([C@H](C)C(=O)O)ccc2c1"),
        ("ketoprofen", "C[C@@H](C(=O)O)c1cccc(c1)C(=O)c1ccccc1"), ("diclofenac", "OC(=O)Cc1ccccc1Nc1c(Cl)cccc1Cl"),
        ("indomethacin", "COc1ccc2c(c1)c(CC(=O)O)c(C)n2C(=O)c1ccc(Cl)cc1"), ("caffeine", "Cn1cnc2c1c(=O)n(C)c(=O)n2C"),
        ("theophylline", "Cn1c2nc[nH]c2c(=O)n(C)c1=O"), ("nicotine", "CN1CCC[C@H]1c1cccnc1"),
        ("diazepam", "CN1C(=O)CN=C(c2ccccc2)c2cc(Cl)ccc21"), ("chlorpromazine", "CN(C)CCCN1c2ccccc2Sc2ccc(Cl)cc21"),
        ("omeprazole", "COc1ccc2[nH]c(nc2c1)S(=O)Cc1ncc(C)c(OC)c1C"),
        ("sulfamethoxazole", "Cc1cc(NS(=O)(=O)c2ccc(N)cc2)no1"), ("lidocaine", "CCN(CC)CC(=O)Nc1c(C)cccc1C"),
        ("procaine", "CCN(CC)CCOC(=O)c1ccc(N)cc1"), ("propranolol", "CC(C)NC[C@H](O)COc1cccc2ccccc12"),
        ("atenolol", "CC(C)NC[C@H](O)COc1ccc(CC(N)=O)cc1"), ("metoprolol", "COCCc1ccc(OC[C@@H](O)CNC(C)C)cc1"),
        ("salbutamol", "CC(C)(C)NC[C@H](O)c1ccc(O)c(CO)c1"), ("diphenhydramine", "CN(C)CCOC(c1ccccc1)c1ccccc1"),
        ("captopril", "C[C@H](CS)C(=O)N1CCC[C@H]1C(=O)O"),
        ("penicillin G", "CC1(C)S[C@@H]2[C@H](NC(=O)Cc3ccccc3)C(=O)N2[C@H]1C(=O)O"),
        ("amoxicillin", "CC1(C)S[C@@H]2[C@H](NC(=O)[C@H](N)c3ccc(O)cc3)C(=O)N2[C@H]1C(=O)O"),
        ("ranitidine", "CNC(=C[N+](=O)[O-])NCCSCc1ccc(CN(C)C)o1"), ("cimetidine", "CN=C(NCCSCc1nc[nH]c1C)NC#N"),
        ("metformin", "CN(C)C(=N)N=C(N)N"), ("phenytoin", "O=C1NC(=O)C(N1)(c1ccccc1)c1ccccc1"),
        ("carbamazepine", "NC(=O)N1c2ccccc2C=Cc2ccccc21"), ("warfarin", "CC(=O)C[C@@H](c1ccccc1)c1c(O)c2ccccc2oc1=O"),
        ("tamoxifen", "CC/C(c1ccccc1)=C(/c1ccccc1)c1ccc(OCCN(C)C)cc1"),
        ("loratadine", "CCOC(=O)N1CCC(=C2c3ccc(Cl)cc3CCc3cccnc32)CC1"),
        ("clopidogrel", "COC(=O)[C@H](c1ccccc1Cl)N1CCc2sccc2C1"), ("ticlopidine", "Clc1ccccc1CN1CCc2sccc2C1"),
        ("tramadol", "CN(C)C[C@@H]1CCCC[C@]1(O)c1cccc(OC)c1"),
        ("morphine", "CN1CC[C@]23c4c5ccc(O)c4O[C@H]2[C@@H](O)C=C[C@H]3[C@H]1C5"),
        ("codeine", "COc1ccc2C[C@H]3N(C)CC[C@@]45[C@@H](Oc1c24)[C@@H](O)C=C[C@@H]35"),
        ("dopamine", "NCCc1ccc(O)c(O)c1"), ("serotonin", "NCCc1c[nH]c2ccc(O)cc12"),
        ("melatonin", "CC(=O)NCCc1c[nH]c2ccc(OC)cc12"), ("adrenaline", "CNC[C@H](O)c1ccc(O)c(O)c1"),
        ("histamine", "NCCc1c[nH]cn1"), ("testosterone", "C[C@]12CC[C@H]3[C@@H](CCC4=CC(=O)CC[C@@]34C)[C@@H]1CC[C@@H]2O"),
        ("estradiol", "C[C@]12CC[C@H]3[C@@H](CCc4cc(O)ccc34)[C@@H]1CC[C@@H]2O"),
        ("progesterone", "CC(=O)[C@H]1CC[C@H]2[C@@H]3CCC4=CC(=O)CC[C@]4(C)[C@H]3CC[C@]12C"),
        ("cortisol", "C[C@]12CCC(=O)C=C1CC[C@@H]1[C@@H]2[C@@H](O)C[C@@]2(C)[C@H]1CC[C@]2(O)C(=O)CO"),
        ("nicotinamide", "NC(=O)c1cccnc1"), ("pyridoxine", "Cc1ncc(CO)c(CO)c1O"),
        ("thiamine", "Cc1ncc(C[n+]2csc(CCO)c2C)c(N)n1"), ("biotin", "OC(=O)CCCC[C@@H]1SC[C@@H]2NC(=O)N[C@H]12"),
        ("riboflavin", "Cc1cc2nc3c(=O)[nH]c(=O)nc-3n(C[C@H](O)[C@H](O)[C@H](O)CO)c2cc1C"),
        ("adenosine", "Nc1ncnc2c1ncn2[C@@H]1O[C@H](CO)[C@@H](O)[C@H]1O"),
        ("guanosine", "Nc1nc2c(ncn2[C@@H]2O[C@H](CO)[C@@H](O)[C@H]2O)c(=O)[nH]1"),
        ("cytidine", "Nc1ccn([C@@H]2O[C@H](CO)[C@@H](O)[C@H]2O)c(=O)n1"),
        ("uridine", "O=c1ccn([C@@H]2O[C@H](CO)[C@@H](O)[C@H]2O)c(=O)[nH]1"),
        ("thymidine", "Cc1cn([C@H]2C[C@H](O)[C@@H](CO)O2)c(=O)[nH]c1=O"), ("adenine", "Nc1ncnc2[nH]cnc12"),
        ("sildenafil", "CCCc1nn(C)c2c(=O)[nH]c(-c3cc(S(=O)(=O)N4CCN(C)CC4)ccc3OCC)nc12"),
        ("acetazolamide", "CC(=O)Nc1nnc(S(N)(=O)=O)s1"), ("hydrochlorothiazide", "NS(=O)(=O)c1cc2c(cc1Cl)NCNS2(=O)=O"),
        ("furosemide", "NS(=O)(=O)c1cc(C(=O)O)c(NCc2ccco2)cc1Cl"), ("chloramphenicol", "OC[C@@H](NC(=O)C(Cl)Cl)[C@H](O)c1ccc(cc1)[N+](=O)[O-]"),
        ("methionine sulfoxide", "C[S](=O)CC[C@H](N)C(=O)O"), ("glutathione (neutral)", "N[C@@H](CCC(=O)N[C@@H](CS)C(=O)NCC(=O)O)C(=O)O"),
        ("N-acetylcysteine", "CC(=O)N[C@@H](CS)C(=O)O"), ("taurine zwitterion", "[NH3+]CCS(=O)(=O)[O-]"),
        ("gabapentin", "NCC1(CC(=O)O)CCCCC1"), ("baclofen", "NC[C@@H](CC(=O)O)c1ccc(Cl)cc1"),
        ("levetiracetam", "CC[C@H](N1CCCC1=O)C(N)=O"), ("modafinil", "NC(=O)CS(=O)C(c1ccccc1)c1ccccc1"),
        ("zolpidem", "Cc1ccc(-c2nc3ccc(C)cn3c2CC(=O)N(C)C)cc1"), ("fluconazole-free triazole (1,2,4-triazole propanol)", "OCCCn1cncn1"),
        ("bupropion", "CC(NC(C)(C)C)C(=O)c1cccc(Cl)c1"), ("ketamine", "CN[C@@]1(CCCCC1=O)c1ccccc1Cl"),
        ("amantadine", "NC12CC3CC(CC(C3)C1)C2"), ("memantine", "CC12CC3CC(C)(C1)CC(N)(C3)C2"),
        ("benzocaine", "CCOC(=O)c1ccc(N)cc1"), ("saccharin", "O=C1NS(=O)(=O)c2ccccc12"),
        ("methylphenidate", "COC(=O)[C@H](c1ccccc1)[C@@H]1CCCCN1"), ("mephenesin", "Cc1ccccc1OC[C@H](O)CO"),
        ("quinine", "COc1ccc2nccc([C@@H](O)[C@@H]3C[C@@H]4CCN3C[C@@H]4C=C)c2c1"),
        ("papaverine", "COc1ccc(Cc2nccc3cc(OC)c(OC)cc23)cc1OC"), ("trimethoprim", "COc1cc(Cc2cnc(N)nc2N)cc(OC)c1OC"),
        ("sulfadiazine", "Nc1ccc(cc1)S(=O)(=O)Nc1ncccn1"), ("dapsone", "Nc1ccc(cc1)S(=O)(=O)c1ccc(N)cc1"),
        ("tolbutamide", "CCCCNC(=O)NS(=O)(=O)c1ccc(C)cc1"), ("thalidomide", "O=C1CC[C@@H](N2C(=O)c3ccccc3C2=O)C(=O)N1"),
        ("isoniazid", "NNC(=O)c1ccncc1"), ("pyrazinamide-like nicotinic acid", "OC(=O)c1cccnc1"),
        ("allopurinol", "O=c1[nH]cnc2[nH]ncc12"), ("mercaptopurine", "S=c1nc[nH]c2nc[nH]c12"),
        ("propylthiouracil", "CCCc1cc(=O)[nH]c(=S)[nH]1"), ("methimazole", "Cn1ccnc1S"),
        ("disulfiram", "CCN(CC)C(=S)SSC(=S)N(CC)CC"), ("tiotropium-free thiophene acid (tiaprofenic acid)", "CC(C(=O)O)c1ccc2sc(C(=O)c3ccccc3)cc2c1"),
    ],
    "elongated": [
        ("OPE3 phenylene-ethynylene", "c1ccc(cc1)C#Cc1ccc(cc1)C#Cc1ccccc1"),
        ("OPE4 phenylene-ethynylene", "c1ccc(cc1)C#Cc1ccc(cc1)C#Cc1ccc(cc1)C#Cc1ccccc1"),
        ("beta-apo-carotenal fragment C20 polyene aldehyde", "CC(=C/C=C/C(C)=C/C=C/C(C)=C/C=O)/C=C/C=C(C)/C=C/C"),
        ("hexadecanedioic acid", "OC(=O)CCCCCCCCCCCCCCC(=O)O"),
        ("docosanedioate monoanion", "OC(=O)CCCCCCCCCCCCCCCCCCCC(=O)[O-]"),
        ("eicosyl methyl ether", "CCCCCCCCCCCCCCCCCCCCOC"),
        ("4,4'-dicarboxy-p-terphenyl", "OC(=O)c1ccc(cc1)-c1ccc(cc1)-c1ccc(cc1)C(=O)O"),
        ("oligo(ethylene glycol) thiol C11-EG3", "SCCCCCCCCCCCOCCOCCOCCO"),
        ("stearyl ammonium", "CCCCCCCCCCCCCCCCCC[NH3+]"),
        ("bis-thiophene diacid", "OC(=O)c1ccc(s1)-c1ccc(s1)C(=O)O"),
        ("1,12-diaminododecane", "NCCCCCCCCCCCCN"),
        ("tetracosane", "CCCCCCCCCCCCCCCCCCCCCCCC"),
    ],
}


def main():
    entries = series()
    for category, items in HAND.items():
        entries += [(category, name, smi) for name, smi in items]
    seen, molecules = set(), []
    for category, name, smi in entries:
        mol = Chem.MolFromSmiles(smi)
        if mol is None:
            raise SystemExit(f"invalid SMILES for {name!r}: {smi}")
        molh = Chem.AddHs(mol)
        elements = {a.GetSymbol() for a in molh.GetAtoms()}
        n = molh.GetNumAtoms()
        if not elements <= ALLOWED or not MIN_ATOMS <= n <= MAX_ATOMS:
            print(f"skip {name}: {n} atoms, elements {sorted(elements)}")
            continue
        canonical = Chem.MolToSmiles(mol)
        if canonical in seen:
            print(f"skip duplicate {name}")
            continue
        seen.add(canonical)
        slug = "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_")
        while "__" in slug:
            slug = slug.replace("__", "_")
        molecules.append((category, slug, smi, Chem.GetFormalCharge(mol), n))
    names = Counter(m[1] for m in molecules)
    assert all(c == 1 for c in names.values()), [k for k, c in names.items() if c > 1]
    cats = Counter(m[0] for m in molecules)
    charged = sum(1 for m in molecules if m[3] != 0)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "organic-xtb.yaml")
    lines = [
        "# organic-xtb: diverse neutral and charged organic molecules of H, C, N, O, S and Cl,",
        f"# {MIN_ATOMS}-{MAX_ATOMS} atoms with hydrogens: flexible chains, lipids, peptides, sugars, aromatics,",
        "# drug-like molecules and elongated molecules (> 20 A when extended).",
        f"# {len(molecules)} molecules ({', '.join(f'{k} {v}' for k, v in sorted(cats.items()))}; {charged} charged).",
        "# Written by data/specs/make_organic_spec.py (edit the list there, then rerun it).",
        "# Sampling per molecule: 4 ETKDG conformers chosen evenly over the radius of gyration out of",
        "# 12 candidates; from each, GFN-FF Langevin MD (RDKit topology) at 300 K and 600 K, 12 frames",
        "# 40 fs apart after 100 fs, plus 1 random displacement (0.05 A): 4 x 25 = 100 structures.",
        "# Labels: tblite GFN2-xTB, accuracy 0.01, charge = SMILES formal charge, closed shell.",
        f"# {len(molecules)} x 100 = {len(molecules) * 100} structures.",
        "# Regenerate (resumes if interrupted): openmm-range data generate data/specs/organic-xtb.yaml",
        "name: organic-xtb",
        'description: "diverse organic molecules (H C N O S Cl), GFN-FF sampled, GFN2-xTB labelled"',
        "seed: 20261131",
        "label: {method: GFN2-xTB, accuracy: 0.01, electronic_temperature: 300, max_iter: 250}",
        "conformers: {n: 4, candidates: 12, select: rg_stratified}",
        "sampling:",
        "  - {kind: md, sampler: gfnff, temperatures: [300, 600], frames: 12, stride: 80,",
        "     equilibration: 200, timestep: 0.5, friction: 0.01}",
        "  - {kind: displace, sigma: 0.05, frames: 1}",
        "spot_check: {structures: 3, components: 6, step: 0.002}",
        "molecules:",
    ]
    for category, slug, smi, charge, n in molecules:
        esc = smi.replace("\\", "\\\\")
        lines.append(f'  - {{name: {slug}, smiles: "{esc}", charge: {charge}, category: {category}}}  # {n} atoms')
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    print(f"wrote {path}: {len(molecules)} molecules, {dict(cats)}, {charged} charged")


if __name__ == "__main__":
    main()
