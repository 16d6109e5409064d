#!/usr/bin/env bash
# Publish the reproduction study's finished dha-xtb models (docs/reproduction.md) into
# serialized_models/study/dha-<run>.pt, each with its model card and learning curve. They are
# not potential names: load one with its architecture and modelPath, as its card shows, e.g.
#   MLPotential('range-schnet', modelPath='serialized_models/study/dha-range-schnet-5.pt')
#   bash scripts/publish_study.sh                    # every finished run
#   bash scripts/publish_study.sh schnet-5-seed1     # only these runs (names under runs/study/dha/)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/ensure_env.sh
note="$(mktemp)"
trap 'rm -f "$note"' EXIT
if [ $# -gt 0 ]; then
    runs=()
    for name in "$@"; do
        [ -d "runs/study/dha/$name" ] || { echo "publish_study.sh: no run runs/study/dha/$name (runs: $(ls runs/study/dha | tr '\n' ' '))" >&2; exit 2; }
        runs+=("runs/study/dha/$name")
    done
else
    runs=(runs/study/dha/*/)
fi
for run in "${runs[@]}"; do
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
