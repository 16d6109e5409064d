#!/usr/bin/env bash
# Measure the quality bars of the shipped models and (re)publish each with them in its model
# card. For every shipped name, the finished run of the current set (benchmarks/shipped_quality.py
# --runs: runs/shipped/NAME, else the run the shipped file came from; schnet-long: the selected
# candidate) is published if it is not the shipped model yet; nothing is published while a run
# under runs/shipped/ is unfinished. Then benchmarks/dimer_longrange.py, bond_dissociation.py,
# close_contacts.py and shipped_quality.py measure the bars, and every card is rewritten with
# them (`openmm-range publish --card-only`), with the DHA stability and NVE runs of each very file
# (scripts/stability_note.py).
#   bash scripts/publish_shipped.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/ensure_env.sh
py=.venv/bin/python
cli=.venv/bin/openmm-range
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
$py benchmarks/shipped_quality.py --runs > "$tmp/runs"  # "NAME RUN MODE" lines (set -e: a failure stops here)
mapfile -t runs < "$tmp/runs"
# publish new runs first, so that the benchmarks evaluate the models they will ship
for line in "${runs[@]}"; do
    read -r name run mode <<<"$line"
    if [ "$mode" = publish ]; then $cli publish "$run" --name "$name" --replace; fi
done
OMP_NUM_THREADS=1 $py benchmarks/dimer_longrange.py
# the DHA bond benchmarks compare every shipped model; always rerun (~4 min): a rerun after a
# failure further on has published nothing itself but must still measure the models published before
OMP_NUM_THREADS=1 $py benchmarks/bond_dissociation.py > /dev/null
OMP_NUM_THREADS=1 $py benchmarks/close_contacts.py > /dev/null
$py benchmarks/shipped_quality.py
{ echo "## Quality bars (all shipped models, held-out test splits)"; echo
  sed -n '/^Training set A/,$p' benchmarks/results/shipped_quality.md; echo
  echo "Dimer interaction energies by gap: benchmarks/results/dimer_longrange.md."; echo; } > "$tmp/quality.md"
for line in "${runs[@]}"; do
    read -r name run mode <<<"$line"
    notes=("$tmp/quality.md")
    case "$name" in
        schnet-long)
            if [ -f "$run/../schnet-long-selection.md" ]; then notes=("$run/../schnet-long-selection.md" "${notes[@]}"); fi ;;
        range-schnet|range-painn)  # master-node diversity and Lambda_I(n) on the run's validation split
            { echo "## Master nodes (\`openmm-range inspect\` on the validation split)"; echo
              OMP_NUM_THREADS=1 $cli inspect "serialized_models/$name.pt" --run "$run" --split val --max-structures 0; echo
              echo "Lambda_I(n) is the size regulariser's factor on master node I's broadcast weight."; echo; } > "$tmp/masters.md"
            notes+=("$tmp/masters.md") ;;
    esac
    # DHA Langevin stability and NVE runs of this very file (benchmarks/dha_stability.py, nve_timestep.py)
    $py scripts/stability_note.py "serialized_models/$name.pt" > "$tmp/stability.md"
    notes+=("$tmp/stability.md")
    cat "${notes[@]}" > "$tmp/note.md"
    $cli publish "$run" --name "$name" --card-only --note "$tmp/note.md"
done
