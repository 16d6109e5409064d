#!/usr/bin/env bash
# Measure the quality bars of the finished shipped models and (re)publish each with them in its
# model card: benchmarks/dimer_longrange.py, then benchmarks/shipped_quality.py, then
# `openmm-range publish` for every finished run (schnet-long: the selected candidate).
#   bash scripts/publish_shipped.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/ensure_env.sh
py=.venv/bin/python
# publish first so that the benchmarks evaluate the current runs' models
publish() {  # NAME RUN_DIR [NOTE...]
    local name="$1" run="$2"; shift 2
    local note; note="$(mktemp)"
    cat "$@" /dev/null > "$note"
    .venv/bin/openmm-range publish "$run" --name "$name" --note "$note"
    rm -f "$note"
}
runs=()
for name in range-schnet schnet range-painn painn; do
    [ -f "runs/shipped/$name/summary.json" ] && runs+=("$name:runs/shipped/$name")
done
if best="$($py scripts/select_schnet_long.py --allow-missing 2>/dev/null)"; then runs+=("schnet-long:$best"); fi
# (publish refuses a run whose best_model.pt is missing or is not the one its summary describes)
for item in "${runs[@]}"; do publish "${item%%:*}" "${item#*:}"; done
OMP_NUM_THREADS=1 $py benchmarks/dimer_longrange.py
$py benchmarks/shipped_quality.py
quality="$(mktemp)"
{ echo "## Quality bars (all shipped models, held-out test splits)"; echo
  sed -n '/^| bar |/,$p' benchmarks/results/shipped_quality.md; echo
  echo "Dimer interaction energies by gap: benchmarks/results/dimer_longrange.md."; } > "$quality"
stability="$(mktemp)"
$py scripts/stability_note.py serialized_models/range-schnet.pt > "$stability"
masters() {  # RANGE models: master-node diversity and Lambda_I(n) on the run's validation split
    local out="$1" run="$2"
    { echo "## Master nodes (\`openmm-range inspect\` on the validation split)"; echo
      .venv/bin/openmm-range inspect "$run/best_model.pt" --run "$run" --split val --max-structures 0; echo
      echo "Lambda_I(n) is the size regulariser's factor on master node I's broadcast weight."; echo
      $py scripts/range_form_note.py "$run"; } > "$out"
}
masters_note="$(mktemp)"
for item in "${runs[@]}"; do
    name="${item%%:*}"
    case "$name" in
        schnet-long) publish "$name" "${item#*:}" runs/shipped/schnet-long-selection.md "$quality" ;;
        range-schnet) masters "$masters_note" "${item#*:}"
                      publish "$name" "${item#*:}" "$quality" "$masters_note" "$stability" ;;
        range-painn) masters "$masters_note" "${item#*:}"
                     publish "$name" "${item#*:}" "$quality" "$masters_note" ;;
        *) publish "$name" "${item#*:}" "$quality" ;;
    esac
done
rm -f "$masters_note"
rm -f "$stability"
rm -f "$quality"
