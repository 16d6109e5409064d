#!/usr/bin/env bash
# The one prepared GPU check of openmm-range (issue 10): the CUDA tests, the MD throughput
# benchmark and the model-size scan on one NVIDIA GPU, end to end in <= 8 minutes, with
# every result in one folder. `--dry-run` runs the same steps on the CPU with tiny sizes
# (about 40 s on 2 cores, longer beside other jobs); CI runs it through tests/test_device_check.py.
#
# Usage:
#   bash scripts/device_check.sh [--out DIR] [--budget SECONDS] [--wheelhouse DIR] [--only STEP,...]
#   bash scripts/device_check.sh --dry-run [--out DIR]
#   bash scripts/device_check.sh --prepare-wheelhouse [--wheelhouse DIR]     # here, with network
#
# What it measures (steps in this order; each has its own time limit, all share --budget,
# default 470 s; a failed or timed-out step is recorded and the rest still run):
#   setup    the Python stack. On the GPU machine (no network, Python 3.12, torch 2.11, so
#            openmmtorch 1.5 cannot run: the PythonForce path only) OpenMM 8.6.1 with its CUDA
#            platform (openmm-cuda-13) and openmm-ml 1.8 come from the wheelhouse, and this
#            package is installed with `pip install --no-deps --no-index --no-build-isolation`
#            (this registers the openmmml.potentials entry points); what is already importable
#            is used as it is. Writes env.json (versions, GPU, OpenMM platforms, plugin errors).
#   tests    tests/openmm/test_openmm_cuda.py (junit XML tests_cuda.xml): the exported module
#            captured in a CUDA graph by the PythonForce backend, replay equal to eager; the
#            PythonForce on OpenMM's CUDA platform equal to Reference; the neighbour-capacity
#            error. The TorchForce case skips there (no openmmtorch); in the dry run all skip.
#   md_w64, md_w128
#            benchmarks/md_throughput.py on the CUDA platform, PythonForce backend, with and
#            without CUDA graphs, width 64 then 128, models range-schnet 5 A, schnet 5 A and
#            schnet 12 A (untrained; speed does not depend on the weights), for DHA in vacuum
#            (56 ML atoms) and alanine dipeptide in a TIP3P-FB water box (22 ML atoms, PME):
#            ms/step and ns/day at 2 fs -> md_throughput_CUDA_w64.csv/.md, ..._w128.csv/.md.
#   scaling  benchmarks/model_scaling.py on the GPU: forward+backward time and peak memory of
#            the exported schnet and range-schnet (width 64) for periodic water boxes of
#            1,000 ... 250,000 atoms, up to the largest N that fits in memory and in its time
#            share; also the CUDA-graph capture of the exported module (replay vs eager)
#            -> model_scaling_<GPU>.csv/.json/.png.
#   summary  scripts/device_summary.py -> summary.md and summary.json.
#
# How to read the results: summary.md first. Its step table says what ran (status ok /
# failed / timeout / skipped, seconds used of the limit; each step's output is <step>.log);
# then the CUDA test outcomes; then the targets of issue 10, each "met", "MISSED" or "n/a"
# (n/a: not on the CUDA platform, e.g. in the dry run):
#   * DHA >= 500 ns/day at 2 fs with range-schnet, width 64 (per CUDA-graph setting);
#   * RANGE <= 1.1 x SchNet per MD step at the same width (5 A; per system, width, graphs);
#   * the largest N model_scaling reached (goal 250,000 atoms), with OOM or time-budget notes.
# A missed target is a measurement, not a failure. The exit status is non-zero when a step
# failed, timed out or was skipped for lack of time, a test failed, or (on the GPU) a CUDA
# test was skipped for another reason than the absent openmmtorch.
#
# Running it on the lent GPU machine (the `device` tool; read /work/.library/device/README.md):
#   1. Here, once (network): bash scripts/device_check.sh --prepare-wheelhouse
#      It fills .whl/ (ignore it: echo /.whl/ >> .git/info/exclude) with the OpenMM stack for
#      CPython 3.12 on manylinux x86-64, downloaded as wheels and pre-installed into one
#      pruned archive (about 4 MB): a device call carries at most 64 MiB, the tracked tree is about
#      130 MiB (bash scripts/device_tree.sh shrink first: docs/device_check.md), the plain
#      wheels are about 17 MB. Plain *.whl files placed in
#      the wheelhouse are installed too (pip install --no-index --no-deps --target). See
#      docs/device_check.md for the commands it runs.
#   2. device run: command "bash scripts/device_check.sh", carry [".whl"], timeout_s 540.
#      The results folder comes back packed as $OUT/device_check.tar.gz, with summary.md,
#      summary.json and device_check.log beside it (the tool returns at most 8 files).
#   3. Back here: tar -xzf <files_at>/device_check.tar.gz -C benchmarks/results/
#      gives benchmarks/results/device_check/, ready to commit.
# Spending the remaining device time: a session has 15 minutes, a machine start costs 1-2,
# this run 8, and no machine starts with under 4 minutes left, so there is no second full
# run. If a step failed for a reason you can fix at once, rerun only the missing steps in the
# same session, e.g. `bash scripts/device_check.sh --only tests,md_w64 --budget 200`
# (timeout_s 260; setup always runs, about 30 s), then give the machine back; otherwise give
# it back at once and leave the rest to a later session. A rerun's results go to their own
# folder, device_check_only/ (its summary covers the rerun steps), beside device_check/.
#
# Options:
#   --dry-run            CPU, tiny sizes (3 MD steps, N <= 375 atoms), this checkout's .venv
#                        (or $PYTHON), no installs; CUDA tests are expected to skip.
#   --out DIR            results folder (default /tmp/openmm-range-device-check/device_check);
#                        must not lie inside $OUT. Files of an earlier check there are replaced.
#   --budget SECONDS     wall-clock budget of all steps together (default 470; 60..3600).
#   --wheelhouse DIR     wheelhouse (default .whl in the checkout; also $WHEELHOUSE).
#   --only STEP,...      run only these of: tests, md_w64, md_w128, scaling (setup and summary
#                        always run).
#   --prepare-wheelhouse download and pack the wheelhouse here (needs network), then exit.
# Environment: PYTHON (interpreter; default python3, in the dry run .venv/bin/python),
# WITH_MDTRAJ=1 (also pack mdtraj into the wheelhouse; no step needs it).
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STEP_NAMES="tests md_w64 md_w128 scaling"
MODE=gpu
OUTDIR=""
BUDGET=470
WHEELHOUSE="${WHEELHOUSE:-$REPO/.whl}"
ONLY=""
PREPARE=0

die() { echo "device_check.sh: $*" >&2; exit 2; }
usage() { sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) MODE=dry-run; shift ;;
        --out) [ $# -ge 2 ] && [ -n "$2" ] || die "--out needs a folder"; OUTDIR="$2"; shift 2 ;;
        --out=*) OUTDIR="${1#--out=}"; [ -n "$OUTDIR" ] || die "--out needs a folder"; shift ;;
        --budget) [ $# -ge 2 ] || die "--budget needs a number of seconds"; BUDGET="$2"; shift 2 ;;
        --budget=*) BUDGET="${1#--budget=}"; shift ;;
        --wheelhouse) [ $# -ge 2 ] && [ -n "$2" ] || die "--wheelhouse needs a folder"; WHEELHOUSE="$2"; shift 2 ;;
        --wheelhouse=*) WHEELHOUSE="${1#--wheelhouse=}"; shift ;;
        --only) [ $# -ge 2 ] || die "--only needs step names"; ONLY="$2"; shift 2 ;;
        --only=*) ONLY="${1#--only=}"; shift ;;
        --prepare-wheelhouse) PREPARE=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument '$1'; accepted: --dry-run, --out DIR, --budget SECONDS, --wheelhouse DIR, --only STEP[,STEP...], --prepare-wheelhouse, --help" ;;
    esac
done
case "$BUDGET" in ''|*[!0-9]*) die "--budget must be a whole number of seconds (60..3600), got '$BUDGET'" ;; esac
[ "$BUDGET" -ge 60 ] && [ "$BUDGET" -le 3600 ] || die "--budget must be 60..3600 seconds, got $BUDGET"
for step in ${ONLY//,/ }; do
    case " $STEP_NAMES " in *" $step "*) ;; *) die "--only: unknown step '$step'; accepted: ${STEP_NAMES// /, }" ;; esac
done

default_python() {
    if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"
    elif [ "$MODE" = dry-run ] && [ -x "$REPO/.venv/bin/python" ]; then echo "$REPO/.venv/bin/python"
    else echo python3; fi
}
PY="$(default_python)"

# ---------------------------------------------------------------------------------------
# --prepare-wheelhouse: run here, with network. Wheels for CPython 3.12, manylinux x86-64.
# ---------------------------------------------------------------------------------------
PLATFORM_ARGS=(--python-version 3.12 --implementation cp --only-binary=:all:
               --platform manylinux_2_34_x86_64 --platform manylinux_2_28_x86_64
               --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64
               --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)
STACK_ARCHIVE="openmm-stack-cp312.tar.xz"

prune_stack() {  # $1: a --target folder; drop what no step uses (OpenCL, Amoeba/Drude/RPMD kernels, big data)
    local site="$1" data="$1/openmm/app/data"
    rm -rf "$site/OpenMM.libs/include" "$data/charmm36" "$data/charmm36_2024" "$data/implicit"
    rm -f "$site"/OpenMM.libs/lib/plugins/*OpenCL* "$site"/OpenMM.libs/lib/plugins/libOpenMMAmoeba* \
          "$site"/OpenMM.libs/lib/plugins/libOpenMMDrude* "$site"/OpenMM.libs/lib/plugins/libOpenMMRPMD*
    # Force-field files over 150 kB, except amber19 (+ the amber14 RNA file amber19-all.xml includes).
    find "$data" -maxdepth 2 -type f -size +150k ! -path "$data/amber19/*" ! -name RNA.OL3.xml -delete
    find "$site" -name __pycache__ -prune -exec rm -rf {} +
}

prepare_wheelhouse() {
    local dl stage size tree
    dl="$(mktemp -d)"; stage="$(mktemp -d)"
    mkdir -p "$WHEELHOUSE" || die "cannot create the wheelhouse $WHEELHOUSE"
    echo "== downloading the OpenMM stack for CPython 3.12 (manylinux x86-64) into $dl"
    "$PY" -m pip download --no-deps "${PLATFORM_ARGS[@]}" -d "$dl" openmm==8.6.1 openmm-cuda-13==8.6.1 \
        ${WITH_MDTRAJ:+mdtraj==1.11.2} || die "pip download failed"
    # openmm-ml 1.8 is pure Python; PyPI may offer only its sdist: build the wheel here.
    "$PY" -m pip wheel --no-deps -w "$dl" openmmml==1.8 || die "pip wheel openmmml==1.8 failed"
    echo "== installing them (no deps) into a staging folder and pruning it"
    "$PY" -m pip install -q --no-deps --no-index --no-compile --target "$stage" "${PLATFORM_ARGS[@]}" "$dl"/*.whl \
        || die "pip install --target of the downloaded wheels failed"
    prune_stack "$stage"
    tar -cJf "$WHEELHOUSE/$STACK_ARCHIVE.tmp" -C "$stage" . && mv "$WHEELHOUSE/$STACK_ARCHIVE.tmp" "$WHEELHOUSE/$STACK_ARCHIVE" \
        || die "packing $WHEELHOUSE/$STACK_ARCHIVE failed"
    (cd "$dl" && sha256sum ./*.whl) > "$WHEELHOUSE/$STACK_ARCHIVE.sources.sha256"
    rm -rf "$dl" "$stage"
    size="$(du -sb "$WHEELHOUSE" | cut -f1)"
    tree="$(cd "$REPO" && git ls-files -z --cached --others --exclude-standard 2>/dev/null | xargs -0 -r du -cb 2>/dev/null | tail -1 | cut -f1)"
    echo "wrote $WHEELHOUSE/$STACK_ARCHIVE ($(( size / 1024 )) KiB in the wheelhouse); the working tree that travels is" \
         "$(( ${tree:-0} / 1048576 )) MiB + the wheelhouse, of 64 MiB a device call may carry"
    case "$WHEELHOUSE/" in
        "$REPO"/*) if ! (cd "$REPO" && git check-ignore -q "$WHEELHOUSE"); then
                       echo "NOTE: $WHEELHOUSE is not ignored by git; run: echo /${WHEELHOUSE#"$REPO"/}/ >> .git/info/exclude"
                   fi ;;
    esac
}

if [ "$PREPARE" = 1 ]; then
    prepare_wheelhouse
    exit 0
fi

# ---------------------------------------------------------------------------------------
# The check
# ---------------------------------------------------------------------------------------
# a rerun of some steps (--only) writes beside the full run's results, never over them
[ -n "$OUTDIR" ] || OUTDIR="${TMPDIR:-/tmp}/openmm-range-device-check/device_check${ONLY:+_only}"
OUTDIR="$(realpath -m "$OUTDIR")"
if [ -n "${OUT:-}" ] && [ -d "$OUT" ]; then
    case "$OUTDIR/" in "$(realpath "$OUT")/"*) die "--out $OUTDIR lies inside \$OUT ($OUT): give a folder outside it; the script packs the results into \$OUT/device_check.tar.gz" ;; esac
fi
mkdir -p "$OUTDIR" || die "cannot create the results folder '$OUTDIR'"
if [ -n "$(ls -A "$OUTDIR")" ] && [ ! -f "$OUTDIR/steps.tsv" ]; then
    die "--out $OUTDIR is not empty and holds no earlier device check (steps.tsv): give an empty or new folder"
fi
rm -f "$OUTDIR"/*.csv "$OUTDIR"/*.md "$OUTDIR"/*.json "$OUTDIR"/*.xml "$OUTDIR"/*.log "$OUTDIR"/*.png \
      "$OUTDIR"/*.tsv "$OUTDIR"/*.tmp
cd "$REPO" || die "cannot enter $REPO"
export PYTHONUNBUFFERED=1
START="$(date +%s)"
DEADLINE=$(( START + BUDGET ))
RESERVE=25          # seconds kept back for the summary and packing
FAILED=()
exec > >(tee "$OUTDIR/device_check.log") 2>&1
echo "device_check.sh: mode $MODE, budget ${BUDGET}s, results in $OUTDIR, python $PY, started $(date -u +%FT%TZ)"

record() {  # name status rc seconds limit note
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "${6//$'\t'/ }" >> "$OUTDIR/steps.tsv"
    [ "$2" = ok ] || [ "$6" = "not in --only" ] || FAILED+=("$1")
    echo "== [$1] $2 (rc ${3:--}, $4 s$([ "$5" = 0 ] || echo " of $5 s"))${6:+: $6}"
}

wanted() { [ -z "$ONLY" ] || [ "$1" = summary ] || case ",$ONLY," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

run_step() {  # name cap_seconds command...: time-limited, output in <name>.log, recorded in steps.tsv
    local name="$1" cap="$2" left limit t0 rc status
    shift 2
    if ! wanted "$name"; then record "$name" skipped "" 0 0 "not in --only"; return 0; fi
    left=$(( DEADLINE - RESERVE - $(date +%s) ))
    if [ "$left" -lt 15 ]; then record "$name" skipped "" 0 0 "time budget spent"; return 1; fi
    limit=$(( cap < left ? cap : left ))
    echo "== [$name] up to ${limit} s: $*"
    t0="$(date +%s)"
    timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$OUTDIR/$name.log"
    rc="${PIPESTATUS[0]}"
    status=ok
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then status=timeout; elif [ "$rc" -ne 0 ]; then status=failed; fi
    record "$name" "$status" "$rc" "$(( $(date +%s) - t0 ))" "$limit" ""
}

# --- setup: runs in this shell, so that PYTHONPATH / LD_LIBRARY_PATH reach the later steps --
SITE="${DEVICE_CHECK_SITE:-${TMPDIR:-/tmp}/openmm-range-device-site}"

python_ok() { "$PY" -c "$1" >/dev/null 2>&1; }
HAVE_STACK='import openmm, openmmml, sys; n=[openmm.Platform.getPlatform(i).getName() for i in range(openmm.Platform.getNumPlatforms())]; sys.exit(0 if "CUDA" in n else 1)'
HAVE_PACKAGE='import sys, openmm_range; from importlib.metadata import entry_points; sys.exit(0 if "range-schnet" in {e.name for e in entry_points(group="openmmml.potentials")} else 1)'

cuda_library_path() {  # folders of this Python's nvidia-* wheels holding what OpenMM's CUDA plugin links
    local libs          # (libnvrtc.so.13, libcufft.so.12; its RUNPATH only finds them beside its own site-packages)
    libs="$("$PY" - 2>/dev/null <<'PY'
import glob, os, sys
found = []
for d in filter(None, sys.path):
    for lib in sorted(glob.glob(os.path.join(d, "nvidia", "*", "lib"))):
        if any(glob.glob(os.path.join(lib, name)) for name in ("libnvrtc.so.13*", "libcufft.so.12*")):
            found.append(lib)
print(":".join(dict.fromkeys(found)))
PY
)"
    [ -n "$libs" ] && export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    return 0
}

install_stack() {
    local found=0 archive
    [ -d "$WHEELHOUSE" ] || { echo "no wheelhouse at $WHEELHOUSE: prepare it with --prepare-wheelhouse and carry it"; return 1; }
    mkdir -p "$SITE" || return 1
    for archive in "$WHEELHOUSE"/*.tar.xz; do
        [ -e "$archive" ] || continue
        echo "unpacking $archive into $SITE"
        # Python's tarfile reads .xz itself: no xz program needed on that machine.
        timeout 60 "$PY" -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2], filter="data")' \
            "$archive" "$SITE" || return 1
        found=1
    done
    if compgen -G "$WHEELHOUSE/*.whl" >/dev/null; then
        echo "installing $(cd "$WHEELHOUSE" && echo ./*.whl) into $SITE"
        timeout 120 "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target "$SITE" "$WHEELHOUSE"/*.whl || return 1
        found=1
    fi
    [ "$found" = 1 ] || { echo "the wheelhouse $WHEELHOUSE holds no *.tar.xz or *.whl"; return 1; }
    export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
}

install_package() {
    echo "installing openmm-range from $REPO into $SITE (pip --no-deps --no-index --no-build-isolation)"
    mkdir -p "$SITE" || return 1
    timeout 120 "$PY" -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --no-cache-dir \
        --upgrade --target "$SITE" "$REPO" || return 1
    case ":${PYTHONPATH:-}:" in *":$SITE:"*) ;; *) export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}" ;; esac
}

write_env() {  # env.json; on the GPU, fails without torch CUDA or OpenMM's CUDA platform
    "$PY" - "$OUTDIR/env.json" "$MODE" <<'EOF'
import datetime, json, os, platform, sys
out, mode = sys.argv[1], sys.argv[2]
env = {"mode": mode, "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
       "host": platform.node(), "python": platform.python_version(), "executable": sys.executable,
       "pythonpath": os.environ.get("PYTHONPATH", ""), "ld_library_path": os.environ.get("LD_LIBRARY_PATH", "")}
problems = []
import torch
env.update(torch=torch.__version__, torch_cuda=torch.cuda.is_available(),
           gpu=torch.cuda.get_device_name() if torch.cuda.is_available() else None)
import openmm
env.update(openmm=openmm.__version__, platforms=[openmm.Platform.getPlatform(i).getName()
                                                 for i in range(openmm.Platform.getNumPlatforms())],
           plugin_load_failures=list(openmm.Platform.getPluginLoadFailures()))
import openmmml, openmm_range
from importlib.metadata import entry_points, version
env.update(openmmml=version("openmmml"), openmm_range=os.path.dirname(openmm_range.__file__),
           potentials=sorted(e.name for e in entry_points(group="openmmml.potentials") if e.value.startswith("openmm_range")))
try:
    import openmmtorch  # noqa: F401
    env["openmmtorch"] = version("openmmtorch")
except Exception as exc:
    env["openmmtorch"] = f"not usable: {type(exc).__name__}"
if "range-schnet" not in env["potentials"]:
    problems.append("the openmmml.potentials entry points of openmm-range are not registered")
if mode == "gpu":
    if not env["torch_cuda"]:
        problems.append("torch sees no CUDA GPU")
    if "CUDA" not in env["platforms"]:
        problems.append(f"OpenMM has no CUDA platform; plugin load failures: {env['plugin_load_failures']}")
    else:  # a first Context compiles OpenMM's CUDA kernels (NVRTC): a failure here names the cause early
        try:
            system = openmm.System()
            for _ in range(2):
                system.addParticle(1.0)
            bond = openmm.HarmonicBondForce()
            bond.addBond(0, 1, 0.1, 1000.0)
            system.addForce(bond)
            context = openmm.Context(system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("CUDA"))
            context.setPositions([openmm.Vec3(0, 0, 0), openmm.Vec3(0.12, 0, 0)])
            context.getIntegrator().step(2)
            env["cuda_context"] = "ok: " + context.getPlatform().getPropertyValue(context, "DeviceName")
        except Exception as exc:
            env["cuda_context"] = f"failed: {exc}"
            problems.append(f"an OpenMM CUDA Context failed: {exc}")
env["problems"] = problems
with open(out + ".tmp", "w") as fh:
    json.dump(env, fh, indent=2)
os.replace(out + ".tmp", out)
print(json.dumps(env, indent=2))
sys.exit(1 if problems else 0)
EOF
}

setup_env() {
    if [ "$MODE" = dry-run ]; then
        echo "dry run: the existing environment of $PY, nothing installed"
    else
        cuda_library_path
        if python_ok "$HAVE_STACK"; then echo "OpenMM (with CUDA) and openmm-ml already importable: used as they are"
        else install_stack || return 1; cuda_library_path; fi
        if python_ok "$HAVE_PACKAGE"; then echo "openmm-range already installed with its entry points: used as it is"
        else install_package || return 1; fi
    fi
    write_env
}

t0="$(date +%s)"
echo "== [setup] python stack"
setup_env > >(tee "$OUTDIR/setup.log") 2>&1   # not a pipeline: its exports must stay in this shell
rc=$?
record setup "$([ "$rc" -eq 0 ] && echo ok || echo failed)" "$rc" "$(( $(date +%s) - t0 ))" 0 \
    "$([ "$MODE" = dry-run ] && echo "existing environment" || echo "wheelhouse $WHEELHOUSE")"

# --- the measurements, most important first ------------------------------------------------
MD_MODELS=(range-schnet:5 schnet:5 schnet:12)
if [ "$MODE" = gpu ]; then
    MD_ARGS=(--platforms CUDA --backends python --cuda-graphs both --steps 200 --repeats 3 --warmup 30)
    SCALING_ARGS=(--device cuda --sizes 1000 5000 20000 50000 100000 250000 --cuda-graph --max-seconds 110)
    CAP_TESTS=150; CAP_MD64=170; CAP_SCALING=150; CAP_MD128=150
else
    export OMP_NUM_THREADS=1
    MD_ARGS=(--platforms CPU --backends python --cuda-graphs both --steps 3 --repeats 1 --warmup 2 --threads 1)
    SCALING_ARGS=(--device cpu --sizes 190 370 --width 16 --heads 2 --repeats 1 --threads 1 --no-memory --max-seconds 60)
    CAP_TESTS=120; CAP_MD64=150; CAP_SCALING=90; CAP_MD128=150
fi

run_step tests "$CAP_TESTS" "$PY" -m pytest -q -p no:cacheprovider -rs --junitxml="$OUTDIR/tests_cuda.xml" \
    tests/openmm/test_openmm_cuda.py
run_step md_w64 "$CAP_MD64" "$PY" benchmarks/md_throughput.py "${MD_ARGS[@]}" --width 64 \
    --models "${MD_MODELS[@]}" --out "$OUTDIR" --tag _w64
run_step scaling "$CAP_SCALING" "$PY" benchmarks/model_scaling.py "${SCALING_ARGS[@]}" --out "$OUTDIR"
run_step md_w128 "$CAP_MD128" "$PY" benchmarks/md_throughput.py "${MD_ARGS[@]}" --width 128 \
    --models "${MD_MODELS[@]}" --out "$OUTDIR" --tag _w128

# --- summary (always runs, from the reserved time) and packing ---------------------------
DEADLINE=$(( DEADLINE + RESERVE ))
RESERVE=5
run_step summary 20 "$PY" scripts/device_summary.py "$OUTDIR" --mode "$MODE"

echo "device_check.sh: $(( $(date +%s) - START )) s; results in $OUTDIR"
if [ ${#FAILED[@]} -gt 0 ]; then echo "device_check.sh: FAILED steps: ${FAILED[*]}"; else echo "device_check.sh: all steps ok"; fi
if [ -n "${OUT:-}" ] && [ -d "$OUT" ]; then
    tar -czf "$OUT/device_check.tar.gz" -C "$(dirname "$OUTDIR")" "$(basename "$OUTDIR")" \
        && cp "$OUTDIR/summary.md" "$OUTDIR/summary.json" "$OUTDIR/device_check.log" "$OUT/" 2>/dev/null
    echo "device_check.sh: packed into $OUT/device_check.tar.gz"
fi
[ ${#FAILED[@]} -eq 0 ]
