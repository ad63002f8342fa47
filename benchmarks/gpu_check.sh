#!/usr/bin/env bash
# lkbench GPU check: one command on a machine with one GPU and no network (docs/gpu.md).
#
#   bash benchmarks/gpu_check.sh [--dry-run] [--out DIR] [--budget SECONDS]
#
# 1. setup  a virtual environment (.venv-gpu) over the machine's own torch
#           (--system-site-packages), lkbench installed offline: pip --no-index from wheels/
#           (fetched beforehand with `make gpu-wheels` on a machine with internet);
# 2. env    torch, CUDA, cuDNN, GPU, driver;
# 3. tests  the CUDA tests (pytest -m cuda tests/cuda);
# 4. lkg kg l2m   G+D training steps at the paper presets, with and without AMP and
#           channels_last: s/step, img/s, peak memory (random inputs of the paper shapes);
# 5. detect `detect --preset paper` pairs/s;  fid  FID feature throughput;
# 6. report DIR/gpu-check.json and DIR/gpu-check.md (printed at the end).
#
# DIR is --out, else $OUT, else out/gpu-check (out/gpu-check-dry-run for --dry-run). Each part
# runs in its own process under its own timeout and the whole stays within --budget (default
# 460 s; 58 s for --dry-run); a part that fails or runs out of time keeps what it finished and
# the others still run. --dry-run does the same on the CPU at the smoke sizes (CI runs it).
# Exit status: 0 when every part passed, 1 otherwise (the results are written either way).
# Environment: PYTHON (the Python that has torch; default python3), GPU_CHECK_WHEELS (default
# wheels/), GPU_CHECK_VENV (default .venv-gpu), GPU_CHECK_TIME_SCALE (an integer multiplying
# every time limit, for a slow machine).
set -uo pipefail
CALLER_DIR=$(pwd)
cd "$(dirname "$0")/.."
ROOT=$(pwd)

DRY=0
OUT_DIR=${OUT:-}
BUDGET=""
while (($#)); do
    case $1 in
        --dry-run) DRY=1 ;;
        --out) OUT_DIR=${2:?--out needs a folder}; shift ;;
        --out=*) OUT_DIR=${1#--out=} ;;
        --budget) BUDGET=${2:?--budget needs seconds}; shift ;;
        --budget=*) BUDGET=${1#--budget=} ;;
        -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "gpu_check.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
# GPU_CHECK_TIME_SCALE=N (an integer) multiplies every time limit and the default budget, for
# a machine much slower than the ones they were sized for.
SCALE=${GPU_CHECK_TIME_SCALE:-1}
if ((DRY)); then
    [[ -n $OUT_DIR ]] || OUT_DIR=$ROOT/out/gpu-check-dry-run
    BUDGET=${BUDGET:-$((58 * SCALE))}
    DRY_ARG=--dry-run     # passed unquoted: empty for a real run
    # part: time limit in seconds (each also capped by what is left of the budget); a dry run
    # takes ~35 s on an idle 2-core CPU, each timing part 4-5 s of it
    declare -A LIMIT=([setup]=30 [env]=12 [tests]=20 [lkg]=12 [kg]=12 [l2m]=12 [detect]=12
                      [fid]=12)
    OVERHEAD=3          # python + torch start-up before a part's own clock starts
else
    [[ -n $OUT_DIR ]] || OUT_DIR=$ROOT/out/gpu-check
    BUDGET=${BUDGET:-$((460 * SCALE))}
    DRY_ARG=
    declare -A LIMIT=([setup]=60 [env]=20 [tests]=170 [lkg]=55 [kg]=30 [l2m]=30 [detect]=30
                      [fid]=30)
    OVERHEAD=10         # python, torch and CUDA start-up
fi
for k in "${!LIMIT[@]}"; do LIMIT[$k]=$((LIMIT[$k] * SCALE)); done
OVERHEAD=$((OVERHEAD * SCALE))
RESERVE=4               # kept for the report
[[ $OUT_DIR == /* ]] || OUT_DIR=$CALLER_DIR/$OUT_DIR
VENV=${GPU_CHECK_VENV:-$ROOT/.venv-gpu}
WHEELS=${GPU_CHECK_WHEELS:-$ROOT/wheels}
START=$SECONDS
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
LOG=$OUT_DIR/gpu-check.log
: >"$LOG"
export LKBENCH_OFFLINE=1 PYTHONUNBUFFERED=1 PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# pip sees only wheels/ and what is installed: no configured indexes, links or constraints.
export PIP_CONFIG_FILE=/dev/null
unset PIP_FIND_LINKS PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_CONSTRAINT PIP_REQUIREMENT \
    PIP_REQUIRE_VIRTUALENV

say() { echo "[gpu-check $((SECONDS - START))s] $*" | tee -a "$LOG"; }

# -- the Python to build on: $PYTHON, else python3 if it has torch, else .venv's -------------------
has_torch() { "$1" -c "import torch, torchvision" >/dev/null 2>&1; }
if [[ -n ${PYTHON:-} ]]; then
    BASE_PY=$PYTHON
    [[ $BASE_PY != */* || $BASE_PY == /* ]] || BASE_PY=$CALLER_DIR/$BASE_PY
elif has_torch python3; then
    BASE_PY=python3
elif [[ -x $ROOT/.venv/bin/python ]] && has_torch "$ROOT/.venv/bin/python"; then
    BASE_PY=$ROOT/.venv/bin/python
    say "python3 has no torch; building on $BASE_PY"
else
    BASE_PY=python3
fi
BASE_PY=$(command -v "$BASE_PY" || echo "$BASE_PY")
HELPER=$ROOT/benchmarks/gpu_check.py

helper() { "$BASE_PY" "$HELPER" "$@" --out "$OUT_DIR" >>"$LOG" 2>&1; }
mark() {  # mark PART STATUS RC WALL [NOTE]
    helper mark "$1" --status "$2" --rc "$3" --wall "$4" --note "${5:-}" $DRY_ARG
}
slot() {  # seconds part $1 may run: its limit, capped by the budget left; fails if too little
    local left=$((BUDGET - (SECONDS - START) - RESERVE)) limit=${LIMIT[$1]}
    local t=$((limit < left ? limit : left))
    ((t >= OVERHEAD + 2)) || return 1
    echo "$t"
}

helper start --budget "$BUDGET" $DRY_ARG || {
    echo "gpu_check.sh: cannot write $OUT_DIR with $BASE_PY" >&2; exit 2; }
say "results in $OUT_DIR (log: gpu-check.log), budget ${BUDGET}s$( ((DRY)) && echo ';' \
    'DRY RUN on the CPU')"

# -- 1. setup ---------------------------------------------------------------------------------
setup() {
    rm -rf "$VENV"
    # No pip or setuptools of its own: an old bundled setuptools (Python < 3.12) would shadow
    # the machine's and fail torch's own requirement on it; pip comes from the machine.
    "$BASE_PY" -m venv --system-site-packages --without-pip "$VENV" \
        || { echo "SETUP: cannot create a virtual environment with $BASE_PY"; return 1; }
    # A venv made from another venv's Python sees the base interpreter's packages, not that
    # venv's: point it at them (where the machine's torch usually is) with a .pth file.
    "$BASE_PY" - "$VENV/bin/python" <<'EOF' || return 1
import pathlib, site, subprocess, sys
if sys.prefix == sys.base_prefix:
    sys.exit(0)
purelib = subprocess.check_output([sys.argv[1], "-c", "import sysconfig; "
                                   "print(sysconfig.get_paths()['purelib'])"], text=True).strip()
paths = [p for p in site.getsitepackages() if pathlib.Path(p).is_dir()]
(pathlib.Path(purelib) / "_gpu_check_parent_site.pth").write_text(  # its .pth files too
    "".join(f"import site; site.addsitedir({p!r})\n" for p in paths))
print(f"SETUP: {sys.prefix} is itself a venv; its site-packages are linked in: {paths}")
EOF
    "$VENV/bin/python" -m pip --version >/dev/null 2>&1 || "$VENV/bin/python" -m ensurepip \
        || { echo "SETUP: no pip for $VENV"; return 1; }
    local pip=("$VENV/bin/python" -m pip install --no-index --find-links "$WHEELS" --no-compile)
    [[ -d $WHEELS ]] || echo "SETUP: no $WHEELS folder (make gpu-wheels); installed packages only"
    "$VENV/bin/python" -c "import setuptools, sys; \
sys.exit(int(setuptools.__version__.split('.')[0]) < 64)" 2>/dev/null \
        || "${pip[@]}" "setuptools>=64" wheel || return 1
    "${pip[@]}" --no-build-isolation -e "$ROOT" pytest && return 0
    if ! "$VENV/bin/python" -c "import torch; print('SETUP: torch', torch.__version__)"; then
        echo "SETUP: the new environment cannot import torch from $BASE_PY's installation;" \
             "set PYTHON=/path/to/the/python/that/has/it"
        return 1
    fi
    # pip also re-checks what the installed packages require, and a site install that does not
    # satisfy itself fails that offline. Then: lkbench without resolution, and every wheel of
    # wheels/ whose project is not installed.
    echo "SETUP: the resolving install failed; installing lkbench --no-deps plus the missing wheels"
    "${pip[@]}" --no-build-isolation --no-deps -e "$ROOT" || return 1
    local missing
    mapfile -t missing < <("$VENV/bin/python" "$ROOT/benchmarks/gpu_check.py" missing-wheels \
                           --log "$WHEELS")
    ((${#missing[@]} == 0)) || "${pip[@]}" --no-deps "${missing[@]}" || return 1
    "$VENV/bin/python" -c "import lkbench.trainers.loop, lkbench.protocols.generation.fid, pytest"
}
PY=$BASE_PY
if T=$(slot setup); then
    say "setup: $VENV over $BASE_PY (offline, wheels from $WHEELS; up to ${T}s)"
    t0=$SECONDS
    timeout -k 5 "$T" bash -c "$(declare -f setup); $(declare -p BASE_PY VENV WHEELS ROOT); setup" \
        >"$OUT_DIR/.setup.log" 2>&1
    rc=$?
    cat "$OUT_DIR/.setup.log" >>"$LOG"
    if ((rc == 0)); then
        PY=$VENV/bin/python
        mark setup ok 0 $((SECONDS - t0)) "lkbench installed in $VENV over $BASE_PY"
    else
        why=$(grep -E "SETUP:|No matching distribution|ERROR" "$OUT_DIR/.setup.log" | tail -3 \
              | tr '\n' ' ')
        [[ $rc == 124 || $rc == 137 ]] && status=timeout || status=failed
        mark setup "$status" "$rc" $((SECONDS - t0)) \
            "${why:-see gpu-check.log}; continuing with $BASE_PY"
        say "setup $status: ${why:-see $LOG}"
    fi
    rm -f "$OUT_DIR/.setup.log"
else
    mark setup skipped 0 0 "out of time"
fi

# -- 2.–5. the parts --------------------------------------------------------------------------
part() {  # part NAME: gpu_check.py NAME under its own timeout
    local name=$1 t t0 rc status
    if ! t=$(slot "$name"); then
        mark "$name" skipped 0 0 "no time left in the ${BUDGET}s budget"
        say "$name: skipped (no time left)"
        return
    fi
    say "$name (up to ${t}s)"
    t0=$SECONDS
    timeout -k 10 "$t" "$PY" "$HELPER" "$name" --out "$OUT_DIR" --budget $((t - OVERHEAD)) \
        $DRY_ARG >>"$LOG" 2>&1
    rc=$?
    case $rc in 0) status=ok ;; 124|137) status=timeout ;; *) status=failed ;; esac
    mark "$name" "$status" "$rc" $((SECONDS - t0))
    ((rc == 0)) || say "$name: $status (exit $rc; see gpu-check.log)"
}

part env

if T=$(slot tests); then
    say "tests: pytest -m cuda tests/cuda (up to ${T}s)"
    TEST_LOG=$(mktemp)
    t0=$SECONDS
    LKBENCH_CUDA_TEST_LOG=$TEST_LOG timeout -k 10 "$T" "$PY" -m pytest tests/cuda -m cuda \
        -p no:cacheprovider -rfEs >>"$LOG" 2>&1
    rc=$?
    "$BASE_PY" "$HELPER" tests --out "$OUT_DIR" --log "$TEST_LOG" --rc "$rc" \
        --wall $((SECONDS - t0)) >>"$LOG" 2>&1
    rm -f "$TEST_LOG"
else
    mark tests skipped 0 0 "no time left in the ${BUDGET}s budget"
fi

for name in lkg kg l2m detect fid; do
    part "$name"
done

# -- 6. report --------------------------------------------------------------------------------
say "done; writing the report"
"$BASE_PY" "$HELPER" report --out "$OUT_DIR" --wall $((SECONDS - START)) $DRY_ARG \
    --strict
