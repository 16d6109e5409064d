#!/usr/bin/env bash
# Generate -- or resume, after an interruption -- every reference dataset in data/specs/,
# one after the other. Each run skips finished tasks (chunks already in data/<name>/chunks/)
# and, once a dataset is complete, stores its statistics and force spot check in meta.json.
#   WORKERS=2 data/generate_all.sh            # default 1 worker; logs in data/<name>/generate.log
#   data/generate_all.sh dimers-xtb           # only the named datasets
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
WORKERS="${WORKERS:-1}"
names=("$@")
[ ${#names[@]} -eq 0 ] && names=(dha-xtb dimers-xtb organic-xtb pushpull-xtb stretch-xtb contact-xtb)
for name in "${names[@]}"; do
    mkdir -p "data/$name"
    echo "=== $(date -u +%FT%TZ) $name" >> "data/$name/generate.log"
    OMP_NUM_THREADS=1 "$PY" -m openmm_range.cli.main data generate "data/specs/$name.yaml" --workers "$WORKERS" \
        >> "data/$name/generate.log" 2>&1
done
