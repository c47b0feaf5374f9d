#!/usr/bin/env bash
# One-shot GPU check: benchmarks/gpu_check.sh [--emulator] OUTDIR
#
# On a fresh NVIDIA machine (H100/H200) with CuPy, PyTorch and nvcc installed and no network, run from
# the checkout (nothing is downloaded or installed; the checkout is put first on PYTHONPATH):
#   1. versions  nvidia-smi, nvcc, Python, NumPy, CuPy (CUDA runtime and driver), PyTorch, gpuflow info
#   2. pytest    pytest -m gpu: every CUDA primitive against the NumPy reference on the GPU (and the
#                emulator); the stage fails if no [gpu] test case ran
#   3. ops       gpuflow bench ops --quick --device gpu --peers torch, TF32 off, then on (2 stages); then
#                --dtype bfloat16 and float16 on the tensor-core ops (conv2d, dense, matmul), --tf32 on as in
#                the float32 stage they are read against (2 stages; with a CuPy that has no bfloat16,
#                gpuflow's bfloat16 is the convolutions and dense forward on uint16 bits: benchmarks/README.md)
#   4. model     gpuflow bench model --device gpu --peers torch --graph both: the seed CNN's training step,
#                gpuflow eager and replayed from a captured CUDA graph, against PyTorch eager
# Output in OUTDIR: gpu_check.log (everything printed), summary.json (each stage's command, exit code,
# seconds, result file), the bench results as ops-gpu-DATE-quick-{tf32off,tf32on,bf16,fp16}.json and
# model-seed_cnn-gpu-DATE.json (ready to copy into benchmarks/results/), pytest-gpu.xml (JUnit).
# Each stage is capped: pytest 120 s + ops 2 x 40 s + 16-bit ops 2 x 30 s + model 95 s = 355 s, plus the 10 s
# grace of each of the 6 kills (60 s) and the three 15 s nvidia-smi calls (45 s): 460 s, under 8 minutes with
# 20 s left for the uncapped version lines. A failing stage does not stop the next
# ones; the exit status is 1 if any stage failed, 2 (with a one-line reason, before any stage) if
# something the run needs is missing: nvidia-smi, a GPU that answers, CuPy, a CUDA device for gpuflow.
#
# --emulator (or GPUFLOW_DEVICE=emulator): the same stages on the CPU emulator of the CUDA kernels,
# with tiny shapes, no peers and no GPU requirement (about 35 s on 2 cores; tests/test_gpu_check.py runs it).
# PYTHON=... picks the interpreter (default python3).
set -euo pipefail

die() { echo "gpu_check: $*" >&2; exit 2; }
usage() { die "usage: benchmarks/gpu_check.sh [--emulator] OUTDIR"; }

MODE=gpu
[[ "${GPUFLOW_DEVICE:-}" == emulator ]] && MODE=emulator
OUT=
for arg in "$@"; do
  case $arg in
    --emulator) MODE=emulator ;;
    -*) usage ;;
    *) [[ -z $OUT ]] || usage; OUT=$arg ;;
  esac
done
[[ -n $OUT ]] || usage

src=${BASH_SOURCE[0]}
[[ $src == */* ]] || src=./$src
REPO=$(cd "${src%/*}/.." && pwd)
HELPER=$REPO/benchmarks/_gpu_check_summary.py
PY=${PYTHON:-python3}
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"

# -- fail fast: what the run needs, checked before anything runs ---------------------------------------
if [[ $MODE == gpu ]]; then
  command -v nvidia-smi >/dev/null ||
    die "no nvidia-smi on PATH: no NVIDIA driver on this machine (--emulator checks the script on the CPU)"
fi
command -v "$PY" >/dev/null || die "no Python interpreter '$PY' on PATH (set PYTHON=/path/to/python)"
if [[ $MODE == gpu ]]; then
  timeout 15 nvidia-smi -L >/dev/null 2>&1 || die "nvidia-smi -L failed or took over 15 s: no GPU answers"
  "$PY" -c 'import cupy' >/dev/null 2>&1 || die "CuPy is not importable by $PY (expected cupy-cuda13x installed)"
  probe='from gpuflow.device import _probe_cuda as p'
else
  probe='from gpuflow.device import _probe_emulator as p'
fi
why=$("$PY" -c "$probe; ok, why = p(); print(why); raise SystemExit(0 if ok else 1)" 2>&1) ||
  die "gpuflow has no $MODE device: ${why##*$'\n'}"

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
LOG=$OUT/gpu_check.log
SUMMARY=$OUT/summary.json
DATE=$(date -u +%F)
cd "$REPO"
exec > >(tee "$LOG") 2>&1

REPLAY_NOTE="bench-model times gpuflow's step eager and graph-replayed (--graph both); the CUDA graph capture had never run on a GPU before: its row's graph_status must say 'replayed N times'"
"$PY" "$HELPER" start "$SUMMARY" --mode "$MODE" --log "$LOG" --note "$REPLAY_NOTE" \
  --note "checkout $(git rev-parse HEAD 2>/dev/null || echo unknown)"
echo "gpu_check ($MODE) -> $OUT, $(date -u +%FT%TZ)"

# stage NAME LIMIT_S [--result FILE] [--junit FILE] [--need-gpu-tests] -- COMMAND...
# Runs COMMAND (under `timeout LIMIT_S` unless it is 0), keeps going whatever its exit status, and
# records the stage in summary.json.
stage() {
  local name=$1 limit=$2 opts=() rc=0 t0 t1 cmd
  shift 2
  while [[ $1 != -- ]]; do opts+=("$1"); shift; done
  shift
  cmd=$(printf '%q ' "$@")
  cmd=${cmd% }
  echo
  echo "=== $name: $cmd"
  t0=${EPOCHREALTIME/[.,]/}
  if [[ $limit == 0 ]]; then "$@" || rc=$?; else timeout --kill-after=10 "$limit" "$@" || rc=$?; fi
  t1=${EPOCHREALTIME/[.,]/}
  echo "=== $name: exit $rc after $(( (t1 - t0) / 1000000 )) s$([[ $rc == 124 ]] && echo " (cut off at $limit s)")"
  "$PY" "$HELPER" add "$SUMMARY" --name "$name" --command "$cmd" --rc "$rc" \
    --seconds "$(( (t1 - t0) / 1000 ))e-3" "${opts[@]}"
}

versions() {
  if [[ $MODE == gpu ]]; then
    timeout 15 nvidia-smi
    timeout 15 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit --format=csv
  fi
  if command -v nvcc >/dev/null; then nvcc --version; else echo "nvcc: not on PATH"; fi
  "$PY" - <<'EOF'
import platform, sys
print("Python", sys.version.split()[0], "on", platform.platform())
import numpy
print("NumPy", numpy.__version__)
try:
    import cupy
    rt = cupy.cuda.runtime
    print("CuPy", cupy.__version__, "| CUDA runtime", rt.runtimeGetVersion(), "| driver", rt.driverGetVersion())
except Exception as e:
    print(f"CuPy: not available ({type(e).__name__}: {e})")
try:
    import torch
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device"
    print("PyTorch", torch.__version__, "| CUDA", torch.version.cuda, "| cuDNN", torch.backends.cudnn.version(), "|", gpu)
except Exception as e:
    print(f"PyTorch: not available ({type(e).__name__}: {e})")
EOF
  "$PY" -m gpuflow info
}

if [[ $MODE == gpu ]]; then
  DEV=(--device gpu --peers torch) OPS=(--quick) OPS_TAG=quick MODEL=(--max-time 10)
  PYTEST=(-m gpu) NEED=(--need-gpu-tests)
  CAP_PYTEST=120 CAP_OPS=40 CAP_MODEL=95
  OPS16=(--quick --op conv2d,dense,matmul) CAP_OPS16=30  # 9 of the quick cases: the ones on tensor cores
else  # tiny: a few primitives, one Dense shape, a 16-sample synthetic model
  export GPUFLOW_DEVICE=emulator
  DEV=(--device emulator --peers none) OPS=(--op dense --shape "4x8->4" --max-time 0.05) OPS_TAG=tiny
  MODEL=(--batch-size 8 --samples 16 --data synthetic --max-time 0.1)
  PYTEST=(-m gpu -k "every_primitive or float64_is_refused") NEED=()
  CAP_PYTEST=60 CAP_OPS=60 CAP_MODEL=60
  OPS16=("${OPS[@]}") CAP_OPS16=60
fi

stage versions 0 -- versions
stage pytest-gpu "$CAP_PYTEST" --junit "$OUT/pytest-gpu.xml" "${NEED[@]}" -- \
  "$PY" -m pytest "${PYTEST[@]}" -q -rs -p no:cacheprovider --junitxml "$OUT/pytest-gpu.xml"
for tf32 in off on; do
  json=$OUT/ops-$MODE-$DATE-$OPS_TAG-tf32$tf32.json
  stage "bench-ops-tf32-$tf32" "$CAP_OPS" --result "$json" -- \
    "$PY" -m gpuflow bench ops "${DEV[@]}" "${OPS[@]}" --tf32 "$tf32" --no-progress --json "$json"
done
for dtype in bfloat16 float16; do
  tag=${dtype/bfloat16/bf16}; tag=${tag/float16/fp16}
  json=$OUT/ops-$MODE-$DATE-$OPS_TAG-$tag.json
  stage "bench-ops-$tag" "$CAP_OPS16" --result "$json" -- \
    "$PY" -m gpuflow bench ops "${DEV[@]}" "${OPS16[@]}" --dtype "$dtype" --tf32 on --no-progress --json "$json"
done
echo "note: $REPLAY_NOTE"
json=$OUT/model-seed_cnn-$MODE-$DATE.json
stage bench-model "$CAP_MODEL" --result "$json" -- \
  "$PY" -m gpuflow bench model "${DEV[@]}" "${MODEL[@]}" --graph both --no-progress --json "$json"

"$PY" "$HELPER" finish "$SUMMARY"
