#!/usr/bin/env bash
# The dynamics runs of the convergence issue (item 6): DHA Langevin stability of the default model
# at 300 K, 8 runs with a 2 fs step, then 8 with 1 fs, then 8 with 2 fs and X-H bonds constrained
# (simulate --constraints hbonds), 100 ps each (benchmarks/dha_stability.py).
# One core. Resumable at any point: finished runs are kept (run<k>.json) and the run in progress
# continues from its checkpoint (run<k>.chk, every 10 ps). Start it in the background:
#   setsid nohup bash scripts/dha_stability.sh > .campaigns/stability.log 2>&1 < /dev/null &
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/ensure_env.sh
export OPENMM_CPU_THREADS=1 OMP_NUM_THREADS=1
for dt in 2 1; do
    .venv/bin/python benchmarks/dha_stability.py --runs 8 --ps 100 --timestep-fs "$dt" --stop-at-break \
        --out "benchmarks/results/dha_stability_${dt}fs"
done
.venv/bin/python benchmarks/dha_stability.py --runs 8 --ps 100 --timestep-fs 2 --constraints hbonds --stop-at-break \
    --out "benchmarks/results/dha_stability_2fs_hbonds"
