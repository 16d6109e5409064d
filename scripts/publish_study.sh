#!/usr/bin/env bash
# Publish the reproduction study's finished dha-xtb models (docs/reproduction.md) into
# serialized_models/study/dha-<run>.pt, each with its model card and learning curve. They are
# not potential names: load one with its architecture and modelPath, as its card shows, e.g.
#   MLPotential('range-schnet', modelPath='serialized_models/study/dha-range-schnet-5.pt')
#   bash scripts/publish_study.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/ensure_env.sh
note="$(mktemp)"
trap 'rm -f "$note"' EXIT
for run in runs/study/dha/*/; do
    run="${run%/}"
    [ -f "$run/summary.json" ] && [ -f "$run/best_model.pt" ] || continue
    cat > "$note" <<NOTE
## Where it comes from

A model of the reproduction study (docs/reproduction.md; config \`configs/study/dha/$(basename "$run").yaml\`),
trained on dha-xtb only. It is published so that the study's numbers can be checked, not for
production MD: the shipped models (serialized_models/*.pt) are trained on more data.
NOTE
    OMP_NUM_THREADS=1 .venv/bin/openmm-range publish "$run" --name "dha-$(basename "$run")" \
        --out-dir serialized_models/study --note "$note"
done
