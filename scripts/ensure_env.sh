#!/usr/bin/env bash
# Create (first time) or reuse (later) the project environment in .venv/.
# The environment is rebuilt only when requirements.txt or setup.py change, or when the
# NVIDIA driver's CUDA version (major) changes.
#
# GPU machines (nvidia-smi runs): the package is installed with the extra
# torchforce-cudaN (OpenMM's CUDA platform and openmmtorch's CUDA plugin, setup.py), where N
# is the CUDA major version the pinned torch wheel is built for (torch.version.cuda: 12 for
# torch 2.9.1 from PyPI), so that OpenMM, openmmtorch and torch share one CUDA runtime; the
# driver (the "CUDA Version" nvidia-smi prints) must support N. A CPU-only torch gets cudaN
# for the newest N (12 or 13) the driver supports, without openmmtorch's CUDA plugin.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
stamp="$venv/.openmm-range-stamp"
driver_cuda=""  # major CUDA version of the NVIDIA driver; empty without a working nvidia-smi
if command -v nvidia-smi >/dev/null 2>&1 && smi="$(nvidia-smi 2>/dev/null)"; then
    driver_cuda="$(sed -n '/CUDA Version:/{s/.*CUDA Version: *\([0-9][0-9]*\).*/\1/p;q;}' <<<"$smi")"
    driver_cuda="${driver_cuda:-unknown}"
fi
want="$( { cat "$root/requirements.txt" "$root/setup.py"; [ -z "$driver_cuda" ] || echo "driver CUDA $driver_cuda"; } \
    | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi
# one build at a time (main.sh and test.sh started together wait for each other); the stamp goes
# first, so that an interrupted build is never taken for a finished one
exec 9>"$venv.lock"
flock 9
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi
rm -f "$stamp"
echo "[openmm-range] building the environment in $venv (first run takes several minutes)" >&2
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip setuptools wheel
"$venv/bin/python" -m pip install --quiet -r "$root/requirements.txt"
extra=""
if [ -n "$driver_cuda" ]; then
    torch_cuda="$("$venv/bin/python" -c 'import torch; print((torch.version.cuda or "").split(".")[0])')"
    if [ -n "$torch_cuda" ]; then
        if [ "$driver_cuda" != unknown ] && [ "$driver_cuda" -ge "$torch_cuda" ] \
            && { [ "$torch_cuda" = 12 ] || [ "$torch_cuda" = 13 ]; }; then
            extra="torchforce-cuda$torch_cuda"
        fi
    elif [ "$driver_cuda" != unknown ] && [ "$driver_cuda" -ge 12 ]; then
        extra="cuda$(( driver_cuda >= 13 ? 13 : 12 ))"
    fi
    if [ -n "$extra" ]; then
        echo "[openmm-range] NVIDIA GPU (driver CUDA $driver_cuda, torch CUDA ${torch_cuda:-none}): extra [$extra]" >&2
    else
        echo "[openmm-range] warning: NVIDIA GPU found, but its driver (CUDA $driver_cuda) cannot run torch's" \
             "CUDA ${torch_cuda:-none} build with OpenMM's CUDA 12/13 plugins; OpenMM's CUDA platform is not installed" >&2
    fi
fi
if [ -n "$extra" ]; then
    "$venv/bin/python" -m pip install --quiet --no-build-isolation -e "$root[$extra]"
else
    "$venv/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e "$root"
fi
echo "$want" > "$stamp"
echo "[openmm-range] environment ready" >&2
