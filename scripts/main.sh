#!/usr/bin/env bash
# The project's main job: Langevin MD of docosahexaenoic acid (DHA, 56 atoms) with the shipped
# range-schnet model on OpenMM's default (fastest available) platform. Builds/reuses .venv/.
# Writes (replaces) output/dha.dcd and output/dha.csv; extra arguments go to `openmm-range simulate`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/ensure_env.sh"
mkdir -p "$root/output"
exec "$root/.venv/bin/openmm-range" simulate --pdb "$root/openmm_range/resources/dha.pdb" --model range-schnet \
    --temperature 300 --timestep-fs 1 --steps 2000 --report-interval 50 \
    --dcd "$root/output/dha.dcd" --csv "$root/output/dha.csv" --overwrite "$@"
