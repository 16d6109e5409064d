"""``openmm-range demo``: energy and forces of the bundled DHA structure, with timing."""
import time

import torch

from openmm_range.cli import positive_int


def register(sub) -> None:
    p = sub.add_parser("demo", help="evaluate energy and forces of bundled DHA (56 atoms) and print timings")
    p.add_argument("--model", default="range-schnet", help="architecture name (default: range-schnet)")
    p.add_argument("--model-path", default=None, help="a saved model file; default: an untrained model")
    p.add_argument("--repeats", type=positive_int, default=20, help="timed evaluations (default 20)")
    p.set_defaults(func=run)


def run(args) -> int:
    import openmm_range
    from openmm_range.structures import dha

    torch.manual_seed(0)
    if args.model_path:
        model = openmm_range.load_model(args.model_path)
        origin = args.model_path
    else:
        model = openmm_range.create_model(args.model)
        origin = f"untrained {args.model} (default hyperparameters, seed 0)"
    z, pos = dha()
    pos = pos.to(model.master_init.dtype)
    module = openmm_range.export(model, z.tolist(), return_forces=True)
    pos_nm = pos / 10.0
    t0 = time.perf_counter()
    energy, forces = module(pos_nm)
    first = time.perf_counter() - t0
    times = []
    for _ in range(max(1, args.repeats)):
        t0 = time.perf_counter()
        module(pos_nm)
        times.append(time.perf_counter() - t0)
    times.sort()
    print(f"model:        {origin}")
    print(f"system:       DHA, {len(z)} atoms, cutoff {model.cutoff} Å, torch threads {torch.get_num_threads()}")
    print(f"energy:       {float(energy):.6f} kJ/mol")
    print(f"max |force|:  {float(forces.norm(dim=1).max()):.6f} kJ/mol/nm")
    print(f"first call:   {first * 1e3:.2f} ms (TorchScript warm-up)")
    print(f"energy+forces {times[len(times) // 2] * 1e3:.2f} ms median over {len(times)} calls (exported module, CPU)")
    return 0
