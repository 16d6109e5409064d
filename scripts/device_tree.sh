#!/usr/bin/env bash
# Keep the training datasets off a device call, and put them back afterwards.
# A device call carries at most 64 MiB of working tree (tracked files plus untracked files that
# git does not ignore). The tracked tree is larger than that once the wheelhouse is added, and the
# GPU check (scripts/device_check.sh) reads none of the training sets or training runs. So, before the call:
#   bash scripts/device_tree.sh shrink     # untracks and ignores data/{organic,dimers,pushpull,stretch,contact}-xtb,
#                                          # the DHA stability runs benchmarks/results/dha_stability*/ and the
#                                          # training runs runs/ (checkpoints of unfinished runs grow the tree)
# and after it, before any commit:
#   bash scripts/device_tree.sh restore    # tracks exactly what HEAD tracks there again; the files never left
#                                          # the disk (a file changed since, e.g. a live checkpoint, shows as modified)
#   bash scripts/device_tree.sh size       # what a device call would carry now (MiB)
# The files stay on disk throughout; only git's index and .git/info/exclude change.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# the training sets, the training runs, and the DHA stability runs' folders (trajectories; their number grows with the runs)
SETS=(data/organic-xtb data/dimers-xtb data/pushpull-xtb data/stretch-xtb data/contact-xtb runs
      $(cd benchmarks/results && for d in dha_stability*/; do [ -d "$d" ] && echo "benchmarks/results/${d%/}"; done))
EXCLUDE=.git/info/exclude
size() {
    # one du over the whole list: xargs would split a long list and report only the last batch's total
    # (a tracked file deleted from disk makes du fail; the total of the others still counts)
    { git ls-files -z; git ls-files -z --others --exclude-standard; } | { du -cb --files0-from=- 2>/dev/null || true; } | tail -1 |
        awk '{printf "%.1f MiB would travel (limit 64 MiB)\n", $1 / 1048576}'
}
case "${1:-}" in
    shrink)
        for d in "${SETS[@]}"; do
            git rm -r -q --cached "$d"
            grep -qxF "/$d/" "$EXCLUDE" 2>/dev/null || echo "/$d/" >> "$EXCLUDE"
        done
        size ;;
    restore)
        for d in "${SETS[@]}"; do
            sed -i "\|^/$d/\$|d" "$EXCLUDE"
            git reset -q -- "$d"   # the index entries of HEAD come back; nothing untracked is added
        done
        git diff --quiet -- "${SETS[@]}" && echo "datasets, runs and stability runs tracked again, unchanged" ||
            echo "tracked again; some files differ from HEAD (live checkpoints?): check git status" ;;
    size) size ;;
    *) echo "usage: bash scripts/device_tree.sh shrink|restore|size" >&2; exit 2 ;;
esac
