#!/usr/bin/env bash
# Train (or resume) shipped models on a lent GPU machine: the one prepared script for the
# `device` tool. It needs only what that machine has (python3 with torch >= 2.9 and
# torch-geometric, numpy, pyyaml, tqdm) and the tracked data/ (the working tree travels):
#
#   device run:  bash scripts/gpu_train.sh 540 range-schnet schnet      (timeout_s 590)
#
# A NAME may also be a config file path. The first argument is the total time budget in seconds, shared evenly by the models. Each
# model resumes from runs/<name>/checkpoint.pt if that travelled, trains on CUDA until its share
# of the budget is spent (a kill loses at most the epoch in progress), and its run directory
# comes back as $OUT/<name>.tar.gz. Back here:
#   tar -xzf <files_at>/<name>.tar.gz           # restores runs/<name>/
#   .venv/bin/openmm-range train configs/<name>.yaml --resume    # finish on CPU, or
#   .venv/bin/openmm-range publish runs/<name> --name <name>     # when it has finished
# Extra training flags for every model can follow after `--`, e.g. `-- --epochs 60`.
set -uo pipefail
budget="${1:?usage: gpu_train.sh SECONDS NAME... [-- TRAIN FLAGS]}"
shift
names=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do names+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
[ ${#names[@]} -gt 0 ] || { echo "gpu_train.sh: name at least one model (configs/<name>.yaml)" >&2; exit 2; }
out="${OUT:-gpu_out}"
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
share=$(( budget / ${#names[@]} ))
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name() if torch.cuda.is_available() else '')"
for name in "${names[@]}"; do
    cfg="configs/$name.yaml"
    case "$name" in *.yaml|*.yml) cfg="$name"; name="$(basename "${name%.*}")";; esac
    [ -f "$cfg" ] || { echo "gpu_train.sh: no $cfg" >&2; exit 2; }
    run_dir="$(python3 -c "import yaml,sys; print(yaml.safe_load(open(sys.argv[1]))['out_dir'])" "$cfg")"
    echo "== $name: up to $share s"
    timeout --signal=KILL "$share" python3 -m openmm_range.cli.main train "$cfg" --resume \
        --device "${GPU_TRAIN_DEVICE:-cuda}" --threads 4 "$@" 2>&1 | tr '\r' '\n' | grep -v 'batch/s' | tee "$out/$name.log"
    tar --exclude=.lock -czf "$out/$name.tar.gz" "$run_dir"
done
ls -la "$out"
