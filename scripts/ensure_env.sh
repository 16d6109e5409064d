#!/usr/bin/env bash
# Create (first time) or reuse (later) the project environment in .venv/.
# The environment is rebuilt only when requirements.txt or setup.py change.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
stamp="$venv/.openmm-range-stamp"
want="$(cat "$root/requirements.txt" "$root/setup.py" | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi
echo "[openmm-range] building the environment in $venv (first run takes several minutes)" >&2
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip setuptools wheel
"$venv/bin/python" -m pip install --quiet -r "$root/requirements.txt"
"$venv/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e "$root"
echo "$want" > "$stamp"
echo "[openmm-range] environment ready" >&2
