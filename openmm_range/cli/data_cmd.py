"""``openmm-range data``: generate, inspect, convert and analyse reference data.

    openmm-range data generate SPEC.yaml [--workers N] [--out DIR] [--max-tasks K]
    openmm-range data info FILE [--format F] [--json]
    openmm-range data convert FILE OUT.npz [--format F]
    openmm-range data finalize DIR            (statistics + force spot check into meta.json)
    openmm-range data longrange FILE [--radii 5 15] [--structures 8] [--probes 6] [--json OUT]
    openmm-range data dimer-scan DIMER_DIR [--pairs 4] [--json OUT]
    openmm-range data end-signal DATASET_DIR [--radii 5 15] [--structures 24] [--json OUT]
"""
import json
import os
import sys

from openmm_range.cli import positive_int
from openmm_range.elements import symbol


def register(subparsers) -> None:
    """Add the ``data`` command and its actions to the top-level sub-parsers."""
    parser = subparsers.add_parser("data", help="reference data: generate, inspect, convert, analyse")
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION")
    parser.set_defaults(func=lambda args: parser.print_help() or 2)

    gen = sub.add_parser("generate", help="generate (or resume) a GFN2-xTB dataset from a YAML spec")
    gen.add_argument("spec", help="spec file, e.g. data/specs/dha-xtb.yaml")
    gen.add_argument("--out", default=None, help="output directory (default: data/<name>/ beside specs/)")
    gen.add_argument("--workers", type=positive_int, default=1, help="worker processes (one tblite thread each)")
    gen.add_argument("--max-tasks", type=positive_int, default=None, help="run at most this many unfinished tasks, then stop")
    gen.add_argument("--no-progress", action="store_true", help="no progress bar")
    gen.add_argument("--no-finalize", action="store_true", help="skip statistics and spot check when all tasks are done")
    gen.set_defaults(func=_generate)

    info = sub.add_parser("info", help="print size, atoms per structure, elements, energy/force statistics")
    info.add_argument("file", help="any supported dataset file or directory")
    info.add_argument("--format", default=None, help="force a format (default: sniffed)")
    info.add_argument("--json", action="store_true", help="print the statistics as JSON")
    info.set_defaults(func=_info)

    conv = sub.add_parser("convert", help="write any supported dataset as one openmm-range .npz file")
    conv.add_argument("file")
    conv.add_argument("out", help="output .npz")
    conv.add_argument("--format", default=None)
    conv.add_argument("--float32", action="store_true", help="store positions and forces as float32 (half size)")
    conv.set_defaults(func=_convert)

    fin = sub.add_parser("finalize", help="store statistics and a force spot check in a dataset directory")
    fin.add_argument("directory")
    fin.add_argument("--no-spot-check", action="store_true")
    fin.set_defaults(func=_finalize)

    lr = sub.add_parser("longrange", help="how much an atom's force changes when only distant atoms move")
    lr.add_argument("file")
    lr.add_argument("--format", default=None)
    lr.add_argument("--radii", type=float, nargs="+", default=[5.0, 15.0], help="Å")
    lr.add_argument("--structures", type=positive_int, default=8)
    lr.add_argument("--probes", type=positive_int, default=6, help="probe atoms per structure")
    lr.add_argument("--sigma", type=float, default=0.1, help="displacement of the distant atoms, Å")
    lr.add_argument("--seed", type=int, default=0)
    lr.add_argument("--json", default=None, help="also write the full result here")
    lr.set_defaults(func=_longrange)

    end = sub.add_parser("end-signal", help="how much forces far from a terminal group change when it is replaced "
                                            "by H (generated datasets of the push-pull polyene kind)")
    end.add_argument("directory", help="a generated dataset (its meta.json holds the molecules' SMILES)")
    end.add_argument("--radii", type=float, nargs="+", default=[5.0, 9.0, 12.0, 15.0], help="Å")
    end.add_argument("--structures", type=positive_int, default=24)
    end.add_argument("--seed", type=int, default=0)
    end.add_argument("--json", default=None, help="also write the full result here")
    end.set_defaults(func=_end_signal)

    scan = sub.add_parser("dimer-scan", help="GFN2-xTB interaction energy vs separation for dimers of a dimer dataset")
    scan.add_argument("directory", help="a dimer dataset directory (data/dimers-xtb) or its spec file")
    scan.add_argument("--pairs", nargs="*", default=None, help="pair names (default: a few of each kind)")
    scan.add_argument("--gaps", type=float, nargs="+", default=[2.5, 4.0, 6.0, 10.0, 15.0, 20.0], help="Å")
    scan.add_argument("--orientations", type=positive_int, default=32, help="random orientations tried at 4 A; the most attractive is scanned")
    scan.add_argument("--json", default=None)
    scan.set_defaults(func=_dimer_scan)


def _generate(args) -> int:
    # one tblite thread, whatever the shell says: labels (and the content hash) must not depend on it
    os.environ["OMP_NUM_THREADS"] = "1"
    from openmm_range.data.generate.runner import generate

    summary = generate(
        args.spec,
        out_dir=args.out,
        workers=args.workers,
        max_tasks=args.max_tasks,
        progress=not args.no_progress,
        finalize_when_done=not args.no_finalize,
    )
    return 0 if summary["structures_this_run"] > 0 or summary["tasks_remaining"] == 0 else 1


def format_info(ds) -> str:
    """Human-readable summary of an AtomsDataset (internal units)."""
    s = ds.stats
    lines = [
        f"source:       {ds.source}",
        f"structures:   {s['n_structures']}   molecules: {s['n_molecules']}   atoms in total: {s['n_atoms_total']}",
        f"atoms/struct: min {s['n_min']}  max {s['n_max']}",
        f"elements:     {' '.join(f'{symbol(z)}({z})' for z in s['elements'])}",
        f"charges:      {s['charges']}",
        f"energy [eV]:  mean {s['energy_mean']:.6f}  std {s['energy_std']:.6f}  "
        f"per atom {s['energy_per_atom_mean']:.6f}",
        f"  after per-element reference energies: std {s['energy_residual_std']:.6f} "
        f"({s['energy_residual_per_atom_std']:.6f} per atom)",
        "  reference energies [eV]: " + ", ".join(f"{symbol(int(z))} {e:.4f}" for z, e in s["atom_ref_energies"].items()),
        f"forces [eV/A]: rms {s['force_rms']:.6f}  mean |F_i,a| {s['force_mean_abs']:.6f}  max |F_i| {s['force_max_norm']:.4f}",
        f"content hash: {ds.content_hash}",
    ]
    label = ds.metadata.get("label")
    if label:
        lines.append(f"labels:       {label.get('program')} {label.get('method')} accuracy {label.get('accuracy')}")
    return "\n".join(lines)


def _info(args) -> int:
    from openmm_range.data import load_dataset

    ds = load_dataset(args.file, format=args.format)
    if args.json:
        print(json.dumps({**ds.stats, "content_hash": ds.content_hash}, indent=1, sort_keys=True))
    else:
        print(format_info(ds))
    return 0


def _convert(args) -> int:
    from openmm_range.data import read_frames, save_frames

    import numpy as np

    frames = read_frames(args.file, format=args.format)
    save_frames(frames, args.out, float_dtype=np.float32 if args.float32 else np.float64)
    print(f"wrote {len(frames)} structures to {args.out}")
    return 0


def _finalize(args) -> int:
    from openmm_range.data.generate.runner import finalize

    finalize(args.directory, spot_check=not args.no_spot_check)
    return 0


def _longrange(args) -> int:
    from openmm_range.data import load_dataset
    from openmm_range.data.longrange import far_field_force_change

    ds = load_dataset(args.file, format=args.format)
    label = ds.metadata.get("label", {})
    result = far_field_force_change(
        ds.frames,
        radii=args.radii,
        n_structures=args.structures,
        n_probes=args.probes,
        sigma=args.sigma,
        seed=args.seed,
        method=label.get("method", "GFN2-xTB"),
        accuracy=label.get("accuracy", 0.01),
        progress=sys.stderr.isatty(),
    )
    for row in result["summary"]:
        if not row["probes"]:
            print(f"beyond {row['radius']:5.1f} A: no probe atom has atoms this far away")
            continue
        print(
            f"beyond {row['radius']:5.1f} A: probes {row['probes']:4d}  mean |dF| {row['mean_meV_per_A']:8.3f} meV/A  "
            f"median {row['median_meV_per_A']:8.3f}  p90 {row['p90_meV_per_A']:8.3f}  max {row['max_meV_per_A']:8.3f}  "
            f"mean |dF|/|F| {row['mean_relative']:.2e}"
        )
    noise = result.get("scf_noise_floor_max_meV_per_A")
    print("SCF noise floor (max over atoms, same structure from another guess): "
          + ("not measured" if noise is None else f"{noise:.4f} meV/A"))
    if args.json:
        from openmm_range.data.store import write_json_atomic

        write_json_atomic(args.json, result)
    return 0


def _end_signal(args) -> int:
    from openmm_range.data import load_dataset
    from openmm_range.data.longrange import end_group_force_change

    ds = load_dataset(args.directory)
    molecules = ds.metadata.get("spec", {}).get("molecules") or []
    smiles = {m["name"]: m["smiles"] for m in molecules if "smiles" in m}
    if not smiles:
        raise ValueError(f"{args.directory}: its meta.json has no spec with molecule SMILES (only datasets made by "
                         "`openmm-range data generate` have them)")
    label = ds.metadata.get("label", {})
    result = end_group_force_change(ds.frames, smiles, radii=args.radii, n_structures=args.structures, seed=args.seed,
                                    method=label.get("method", "GFN2-xTB"), accuracy=label.get("accuracy", 0.01),
                                    progress=sys.stderr.isatty())
    for row in result["summary"]:
        if not row["far_atoms"]:
            print(f"beyond {row['radius']:5.1f} A: no atom this far from a replaced group")
            continue
        print(f"beyond {row['radius']:5.1f} A: {row['far_atoms']:5d} atoms of {row['swaps']} swaps  mean |dF| "
              f"{row['mean_meV_per_A']:8.2f} meV/A  median {row['median_meV_per_A']:7.2f}  p90 {row['p90_meV_per_A']:7.2f}"
              f"  max {row['max_meV_per_A']:7.1f}  per atom of the structure {row['structure_mean_meV_per_A']:6.2f}")
    if args.json:
        from openmm_range.data.store import write_json_atomic

        write_json_atomic(args.json, result)
    return 0


def _dimer_scan(args) -> int:
    from openmm_range.data.longrange import dimer_interaction_scan

    result = dimer_interaction_scan(args.directory, pairs=args.pairs, gaps=args.gaps, n_orientations=args.orientations)
    print("interaction energy E(AB) - E(A) - E(B), kcal/mol, vs closest-atom gap (A):")
    print("pair".ljust(28) + "".join(f"{g:>9.1f}" for g in args.gaps))
    for row in result["pairs"]:
        print(row["pair"].ljust(28) + "".join(f"{e:9.3f}" for e in row["kcal_per_mol"]))
    if args.json:
        from openmm_range.data.store import write_json_atomic

        write_json_atomic(args.json, result)
    return 0
