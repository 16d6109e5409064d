#!/usr/bin/env bash
# Train (or resume) every shipped model in turn and publish each into serialized_models/.
# Resumable at any moment: rerun the same command; finished runs are only re-published.
#   bash scripts/train_shipped.sh [NAME ...]     (default: all, in priority order)
# schnet-long trains the three candidate cutoffs (configs/schnet-long-{7,9,12}.yaml) and
# publishes the one with the lowest validation force MAE (scripts/select_schnet_long.py).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/ensure_env.sh
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(range-schnet schnet schnet-long range-painn painn)
for name in "${names[@]}"; do
    echo "== $name"
    if [ "$name" = schnet-long ]; then
        for c in 7 9 12; do
            .venv/bin/openmm-range train "configs/schnet-long-$c.yaml" --resume
        done
        best="$(.venv/bin/python scripts/select_schnet_long.py)"
        .venv/bin/openmm-range publish "$best" --name schnet-long --note runs/shipped/schnet-long-selection.md
    else
        .venv/bin/openmm-range train "configs/$name.yaml" --resume
        .venv/bin/openmm-range publish "runs/shipped/$name" --name "$name"
    fi
done
