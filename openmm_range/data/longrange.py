"""How much long-range physics is in the labels.

``far_field_force_change``: for a probe atom i, displace only the atoms farther than R
from i (Gaussian, ``sigma`` Å per component) and recompute the GFN2-xTB force on i. A
model whose receptive field is R cannot see that change; its size is the signal a
long-range model (RANGE) can learn beyond a cutoff R. The SCF noise floor is estimated by
recomputing the undisplaced structure from a different starting wavefunction.

``end_group_force_change``: replace a terminal group of a molecule by a hydrogen, the rest of
the geometry unchanged, and recompute the GFN2-xTB forces. The change on atoms farther than R
from the group is what a model with receptive field R cannot know when the sets hold the same
chain with different ends: the signal of a chemical change, not of a small displacement.

``dimer_interaction_scan``: E(AB) - E(A) - E(B) of rigid monomers translated apart.
"""
from typing import Dict, List, Optional, Sequence

import numpy as np

from openmm_range.data.frames import Frames
from openmm_range.data.generate.potentials import SCFError, XTBPotential
from openmm_range.units import EV_PER_KCAL_PER_MOL, MEV_PER_EV


def _max_extent(pos: np.ndarray) -> float:
    d = np.sqrt(((pos[:, None, :] - pos[None, :, :]) ** 2).sum(-1))
    return float(d.max())


def _distribution(values: np.ndarray) -> Dict[str, float]:
    """Mean, median, 90th percentile and maximum of force changes (meV/Å), as the summaries store them."""
    return {"mean_meV_per_A": float(values.mean()), "median_meV_per_A": float(np.median(values)),
            "p90_meV_per_A": float(np.percentile(values, 90)), "max_meV_per_A": float(values.max())}


def far_field_force_change(
    frames: Frames,
    radii: Sequence[float] = (5.0, 15.0),
    n_structures: int = 8,
    n_probes: int = 6,
    sigma: float = 0.1,
    seed: int = 0,
    method: str = "GFN2-xTB",
    accuracy: float = 0.01,
    progress: bool = False,
) -> Dict:
    """Force change on probe atoms when only atoms beyond each radius (Å) are displaced.

    Structures are drawn at random among those whose largest interatomic distance exceeds
    the largest radius (the smallest radius if there are too few); probe atoms are drawn among the atoms that have at least one atom
    beyond the largest radius when possible. Returns a JSON-able dict: per-radius summary
    (meV/Å) and every probe record."""
    rng = np.random.default_rng(seed)
    off = frames.offsets
    extents = np.array([_max_extent(frames.pos[off[s] : off[s + 1]]) for s in range(len(frames))])
    # prefer structures large enough to have atoms beyond the largest radius
    eligible = np.flatnonzero(extents > max(radii))
    if len(eligible) < n_structures:
        eligible = np.flatnonzero(extents > min(radii))
    if len(eligible) == 0:
        raise ValueError(f"{frames.source}: no structure is larger than {min(radii)} Å; nothing is beyond the radius")
    chosen = rng.choice(eligible, size=min(n_structures, len(eligible)), replace=False)
    records: List[Dict] = []
    noise: List[float] = []
    scf_failures = 0
    iterator = sorted(int(s) for s in chosen)
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, desc="long-range probes", unit="struct")
    for s in iterator:
        z = frames.z[off[s] : off[s + 1]]
        pos = frames.pos[off[s] : off[s + 1]]
        # every SCF from the default guess: a guess from another geometry can land an ion pair
        # in a different SCF solution, which would masquerade as a long-range effect
        xtb = XTBPotential(
            z, charge=int(frames.charge[s]), uhf=int(frames.spin[s]), method=method, accuracy=accuracy, reuse_wavefunction=False
        )
        try:
            _, f_ref = xtb(pos)
        except SCFError:  # no reference forces: the structure gives no probe
            scf_failures += 1
            continue
        moved = None  # the last displaced copy of this structure (none if no probe had atoms beyond a radius)
        dist = np.sqrt(((pos[:, None, :] - pos[None, :, :]) ** 2).sum(-1))
        far_max = (dist > max(radii)).any(axis=1)
        candidates = np.flatnonzero(far_max) if far_max.any() else np.arange(len(z))
        probes = rng.choice(candidates, size=min(n_probes, len(candidates)), replace=False)
        for i in probes:
            for radius in radii:
                far = dist[i] > radius
                if not far.any():
                    continue
                moved = pos.copy()
                moved[far] += rng.normal(scale=sigma, size=(int(far.sum()), 3))
                try:
                    _, f_new = xtb(moved)
                except SCFError:
                    scf_failures += 1
                    continue
                change = float(np.linalg.norm(f_new[i] - f_ref[i]))
                records.append(
                    {
                        "structure": s,
                        "atom": int(i),
                        "element": int(z[i]),
                        "radius": float(radius),
                        "n_far": int(far.sum()),
                        "force_norm_eV_per_A": float(np.linalg.norm(f_ref[i])),
                        "change_meV_per_A": change * MEV_PER_EV,
                    }
                )
        if moved is None:
            continue
        # same structure again, starting from the last displaced structure's wavefunction
        restarted = XTBPotential(z, charge=int(frames.charge[s]), uhf=int(frames.spin[s]), method=method, accuracy=accuracy)
        try:
            restarted(moved)
            _, f_again = restarted(pos)
        except SCFError:
            continue
        noise.append(float(np.linalg.norm(f_again - f_ref, axis=1).max()) * MEV_PER_EV)
    summary = []
    for radius in radii:
        rows = [r for r in records if r["radius"] == float(radius)]
        if not rows:
            summary.append({"radius": float(radius), "probes": 0})
            continue
        change = np.array([r["change_meV_per_A"] for r in rows])
        norm = np.array([r["force_norm_eV_per_A"] for r in rows]) * MEV_PER_EV
        summary.append(
            {
                "radius": float(radius),
                "probes": len(rows),
                "mean_far_atoms": float(np.mean([r["n_far"] for r in rows])),
                **_distribution(change),
                "mean_relative": float(np.mean(change / np.maximum(norm, 1.0))),
            }
        )
    return {
        "source": frames.source,
        "method": method,
        "accuracy": accuracy,
        "sigma_angstrom": sigma,
        "structures": [int(s) for s in chosen],
        "structure_extents_angstrom": [round(float(extents[s]), 2) for s in chosen],
        "scf_noise_floor_max_meV_per_A": float(max(noise)) if noise else None,
        "scf_failures_skipped": scf_failures,
        "summary": summary,
        "probes": records,
    }


#: terminal groups of the push-pull polyene set (data/specs/pushpull-xtb.yaml): SMARTS of the
#: group's heavy atoms
PUSHPULL_END_GROUPS = {
    "NO2": "[N+](=O)[O-]",
    "CHO": "[CX3H1]=O",
    "CN": "C#N",
    "NH2": "[NX3;H2]",
    "NMe2": "[NX3]([CH3])[CH3]",
    "OMe": "[OX2][CH3]",
}


def terminal_groups(smiles: str, groups: Dict[str, str]) -> tuple:
    """Atomic numbers of ``smiles`` and its terminal groups ``[(group name, group atoms incl. their H,
    attachment atom, group atom bonded to it)]`` (atoms numbered as the generator numbers them)."""
    from rdkit import Chem

    from openmm_range.data.generate.molecules import parse_smiles

    mol = parse_smiles(smiles)
    sites = []
    for name, smarts in groups.items():
        pattern = Chem.MolFromSmarts(smarts)
        if pattern is None:
            raise ValueError(f"end group {name!r}: {smarts!r} is not a valid SMARTS pattern")
        for match in mol.GetSubstructMatches(pattern):
            heavy = set(match)
            atoms = set(heavy)
            for a in heavy:
                atoms |= {n.GetIdx() for n in mol.GetAtomWithIdx(a).GetNeighbors() if n.GetAtomicNum() == 1}
            outside = [(n.GetIdx(), a) for a in heavy for n in mol.GetAtomWithIdx(a).GetNeighbors()
                       if n.GetIdx() not in atoms]
            if len(outside) != 1:
                continue  # not a terminal group (bonded to the rest by more than one bond)
            attach, inner = outside[0]
            sites.append((name, sorted(atoms), attach, inner))
    return np.array([a.GetAtomicNum() for a in mol.GetAtoms()]), sites


def end_group_swaps(frames: Frames, smiles: Dict[str, str], groups: Dict[str, str] = PUSHPULL_END_GROUPS,
                    n_structures: int = 24, seed: int = 0, structures: Optional[Sequence[int]] = None):
    """The structures of :func:`end_group_force_change`, each with every terminal group in turn replaced by H.

    ``n_structures`` random structures (from ``structures``, indices into ``frames``, if given)
    whose molecule has a terminal group. Returns (chosen structure indices, swaps); each swap is a
    dict with ``structure``, ``molecule``, ``group``, ``z``/``pos`` (Å) of the structure, ``keep``
    (its atoms kept, in order), ``z_new``/``pos_new`` of the capped structure (the kept atoms, then
    the new H), ``distance`` (Å) of each kept atom to the nearest atom of the removed group, and
    ``charge``/``spin``.
    """
    rng = np.random.default_rng(seed)
    off = frames.offsets
    parsed = {name: terminal_groups(smi, groups) for name, smi in smiles.items()}
    sites = {name: groups_of for name, (_, groups_of) in parsed.items()}
    pool = range(len(frames)) if structures is None else [int(s) for s in structures]
    eligible = [s for s in pool if sites.get(frames.molecules[frames.mol_id[s]])]
    if not eligible:
        raise ValueError(f"{frames.source}: no structure's molecule has a terminal group of {sorted(groups)}")
    chosen = sorted(int(s) for s in rng.choice(eligible, size=min(n_structures, len(eligible)), replace=False))
    swaps: List[Dict] = []
    for s in chosen:
        z, pos = frames.z[off[s]:off[s + 1]], frames.pos[off[s]:off[s + 1]]
        name = frames.molecules[frames.mol_id[s]]
        if not np.array_equal(parsed[name][0], z):
            raise ValueError(f"{frames.source}: structure {s} ({name}) does not have the atoms of {smiles[name]!r} in "
                             "RDKit's order; the end groups cannot be located")
        for group, atoms, attach, inner in sites[name]:
            keep = np.array([i for i in range(len(z)) if i not in set(atoms)])
            bond = pos[inner] - pos[attach]
            cap = pos[attach] + 1.09 * bond / np.linalg.norm(bond)
            dist = np.sqrt(((pos[keep][:, None, :] - pos[atoms][None, :, :]) ** 2).sum(-1)).min(axis=1)
            swaps.append({"structure": s, "molecule": name, "group": group, "z": z, "pos": pos, "keep": keep,
                          "z_new": np.append(z[keep], 1), "pos_new": np.vstack([pos[keep], cap]), "distance": dist,
                          "charge": int(frames.charge[s]), "spin": int(frames.spin[s])})
    return chosen, swaps


def end_group_force_change(
    frames: Frames,
    smiles: Dict[str, str],
    groups: Dict[str, str] = PUSHPULL_END_GROUPS,
    radii: Sequence[float] = (5.0, 9.0, 12.0, 15.0),
    n_structures: int = 24,
    seed: int = 0,
    method: str = "GFN2-xTB",
    accuracy: float = 0.01,
    progress: bool = False,
) -> Dict:
    """Force change when a terminal group is replaced by H, on the atoms beyond each radius from it.

    For ``n_structures`` random structures whose molecule (``smiles``: molecule name -> SMILES)
    has a terminal group matching one of ``groups`` (name -> SMARTS of the group's heavy atoms,
    bonded to the rest of the molecule by one bond), every such group in turn is removed and a
    hydrogen put on the atom it was bonded to, 1.09 Å along the old bond; all other atoms stay where they are
    (:func:`end_group_swaps`). GFN2-xTB forces of both
    structures (every SCF from the default guess). Per radius R, over the atoms farther than R
    from every atom of the group: mean, median, 90th percentile and maximum of |ΔF_i|, and
    ``structure_mean``: |ΔF_i| summed over those atoms divided by all atoms of the structure,
    i.e. the mean over all atoms when those within R count zero. meV/Å.
    """
    chosen, swaps = end_group_swaps(frames, smiles, groups, n_structures, seed)
    if progress:
        from tqdm import tqdm

        swaps = tqdm(swaps, desc="end-group swaps", unit="swap")
    records: List[Dict] = []
    reference: Dict[int, np.ndarray] = {}
    for w in swaps:
        xtb = dict(charge=w["charge"], uhf=w["spin"], method=method, accuracy=accuracy, reuse_wavefunction=False)
        try:
            if w["structure"] not in reference:
                reference[w["structure"]] = XTBPotential(w["z"], **xtb)(w["pos"])[1]
            _, f_new = XTBPotential(w["z_new"], **xtb)(w["pos_new"])
        except SCFError:
            continue
        change = np.linalg.norm(f_new[:-1] - reference[w["structure"]][w["keep"]], axis=1) * MEV_PER_EV
        records.append({"structure": w["structure"], "molecule": w["molecule"], "group": w["group"],
                        "atoms": len(w["z"]), "distance_angstrom": w["distance"].round(3).tolist(),
                        "change_meV_per_A": change.round(4).tolist()})
    summary = []
    for radius in radii:
        far = [np.array(r["change_meV_per_A"])[np.array(r["distance_angstrom"]) > radius] for r in records]
        values = np.concatenate(far) if far else np.zeros(0)
        row = {"radius": float(radius), "swaps": len(records), "far_atoms": int(values.size)}
        if values.size:
            row.update(**_distribution(values), structure_mean_meV_per_A=float(np.mean([f.sum() / r["atoms"] for f, r in zip(far, records)])))
        summary.append(row)
    return {"source": frames.source, "method": method, "accuracy": accuracy, "groups": dict(groups),
            "structures": chosen, "summary": summary, "swaps": records}


DEFAULT_SCAN_PAIRS = (
    "nma+nma",
    "water+water",
    "acetic_acid+acetic_acid",
    "acetate+water",
    "acetate+acetate",
    "methylammonium+benzene",
    "benzene+benzene",
)


def dimer_interaction_scan(
    directory: str,
    pairs: Optional[Sequence[str]] = None,
    gaps: Sequence[float] = (2.5, 4.0, 6.0, 10.0, 15.0, 20.0),
    n_orientations: int = 8,
    reference_gap: float = 4.0,
    seed: int = 0,
    method: Optional[str] = None,
    accuracy: Optional[float] = None,
) -> Dict:
    """Interaction energy vs closest-atom gap for pairs of a dimer dataset (``directory``: its
    directory or its spec .yaml).

    Monomers: one ETKDG/MMFF conformer each. Orientation: the most attractive of
    ``n_orientations`` random ones at ``reference_gap``; then B is translated rigidly along
    the centroid direction to each gap. Energies in kcal/mol and meV (NaN where the SCF of
    the pair does not converge)."""
    from openmm_range.data.generate.molecules import build_molecule, place_dimer, shift_to_gap
    from openmm_range.data.store import read_meta

    if directory.endswith((".yaml", ".yml")):
        from openmm_range.data.generate.spec import load_spec

        spec = load_spec(directory).raw  # validated: a broken file is named, not a traceback
        label = spec.get("label") or {}
    else:
        meta = read_meta(directory)
        spec, label = meta.get("spec") or {}, dict(meta.get("label", {}))
    method = method or label.get("method", "GFN2-xTB")
    accuracy = accuracy if accuracy is not None else label.get("accuracy", 0.01)
    dimer_spec = spec.get("dimers")
    if not dimer_spec:
        raise ValueError(f"{directory}: has no 'dimers' spec; dimer-scan needs a dimer dataset or dimer spec file")
    smiles = {m["name"]: m["smiles"] for m in dimer_spec["monomers"]}
    names = [f"{a}+{b}" for a, b in dimer_spec["pairs"]]
    if pairs is None:
        pairs = [p for p in DEFAULT_SCAN_PAIRS if p in names] or names[:4]
    unknown = [p for p in pairs if p not in names]
    if unknown:
        raise ValueError(f"{directory}: unknown pair(s) {unknown}; accepted: {names}")

    def energy(z, pos, charge):
        return XTBPotential(z, charge=charge, method=method, accuracy=accuracy, reuse_wavefunction=False)(pos)[0]

    out = []
    for k, pair in enumerate(pairs):
        a, b = pair.split("+")
        ma = build_molecule(a, smiles[a], 1, seed=seed + 1)
        mb = build_molecule(b, smiles[b], 1, seed=seed + 2)
        z = np.concatenate([ma.z, mb.z])
        q = ma.charge + mb.charge
        best = None
        for o in range(n_orientations):
            rng = np.random.default_rng([seed, k, o])
            pa, pb = place_dimer(ma.conformers[0], mb.conformers[0], reference_gap, rng)
            e_a, e_b = energy(ma.z, pa, ma.charge), energy(mb.z, pb, mb.charge)
            e_int = energy(z, np.concatenate([pa, pb]), q) - e_a - e_b
            if best is None or e_int < best[0]:
                best = (e_int, pa, pb, e_a, e_b)
        _, pa, pb, e_a, e_b = best
        direction = pb.mean(axis=0) - pa.mean(axis=0)
        centre_distance = float(np.linalg.norm(direction))
        direction /= centre_distance
        values = []
        # one calculator along the scan: each SCF starts from the previous gap's wavefunction
        pair_potential = XTBPotential(z, charge=q, method=method, accuracy=accuracy)
        for gap in gaps:
            # shifts between -centre_distance (centroids on top of each other) and far away:
            # in this range the closest-atom distance grows with the shift
            moved = pb + shift_to_gap(pa, pb, direction, gap, -centre_distance, float(gap) + 50.0) * direction
            try:
                values.append(pair_potential(np.concatenate([pa, moved]))[0] - e_a - e_b)
            except SCFError:
                values.append(float("nan"))
        values = np.array(values)
        out.append(
            {
                "pair": pair,
                "charges": [ma.charge, mb.charge],
                "gaps_angstrom": [float(g) for g in gaps],
                "kcal_per_mol": [float(v) for v in values / EV_PER_KCAL_PER_MOL],
                "meV": [float(v) for v in values * MEV_PER_EV],
            }
        )
    return {"directory": directory, "method": method, "accuracy": accuracy, "pairs": out}
