#!/usr/bin/env bash
# The project's test suite. Builds/reuses .venv/ on its own; extra arguments go to pytest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/ensure_env.sh"
cd "$root"
exec "$root/.venv/bin/python" -m pytest -q -p no:cacheprovider "$@" tests
