#!/usr/bin/env bash
# Train (or resume) every shipped model in turn and publish each into serialized_models/.
# Resumable at any moment: rerun the same command; finished runs are only re-published.
#   bash scripts/train_shipped.sh [NAME ...]     (default: all, in priority order)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/ensure_env.sh
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(range-schnet schnet schnet-long range-painn painn)
for name in "${names[@]}"; do
    echo "== $name"
    .venv/bin/openmm-range train "configs/$name.yaml" --resume
    .venv/bin/openmm-range publish "runs/$name" --name "$name"
done
