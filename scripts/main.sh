#!/usr/bin/env bash
# The project's main job. Builds/reuses .venv/ on its own.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/ensure_env.sh"
exec "$root/.venv/bin/openmm-range" demo "$@"
