#!/usr/bin/env bash
# The project's test suite. Builds/reuses .venv/ on its own; extra arguments go to pytest
# (options, or test paths instead of the whole of tests/).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/ensure_env.sh"
cd "$root"
paths=(tests)
for arg in "$@"; do
    # a test path given (a file or folder, optionally ::test): run that, not the whole suite
    case "$arg" in -*) ;; *) if [ -e "${arg%%::*}" ]; then paths=(); fi ;; esac
done
exec "$root/.venv/bin/python" -m pytest -q -p no:cacheprovider "$@" "${paths[@]}"
