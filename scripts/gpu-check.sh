#!/usr/bin/env bash
# The GPU machine's check of the `cuda` build (issue 18), in two halves:
#
#   scripts/gpu-check.sh pack   here: builds gcrl, the CLI test binary and the ae and vae benches
#                               with `--features cuda` (in $CARGO_TARGET_DIR, default
#                               /work/target-cuda), strips them and packs them with xz into
#                               target/gpu-carry/ (the run's `carry`; well under its 64 MiB).
#   scripts/gpu-check.sh run    on the GPU machine, in the repository root: unpacks them, prints
#                               nvidia-smi and the CUDA libraries, then
#                               1. the CPU-vs-GPU training test (tests/cli/gpu.rs);
#                               2. the AE epoch (45,000 cells x 150 TFs -> 1,700 genes, batch
#                                  1024) on GPU 0 beside PyTorch on the same GPU, and the demo's
#                                  permutation test with --gpus 1 beside 2 pinned CPU cores
#                                  (benches/ae.rs);
#                               3. the VAE epochs at Norman size (5,000 genes, 105 targets,
#                                  batch 32) beside PyTorch on the same GPU (benches/vae.rs).
#                               Results: benches/results/<date>-{ae,vae}-gpu.csv, copied with
#                               the logs to $OUT (default target/gpu-check). Sized for under 8
#                               minutes on an H200 (not run there yet): each step has its own
#                               time limit (30 + 120 + 220 + 120 s), and a failed step is recorded
#                               in steps.txt while the next ones still run.
#
# GCRL_BENCH_REPEATS (default 3) sets the repeats of the epoch measurements, and
# GCRL_BENCH_PERMUTATION_REPEATS (default 2) those of the permutation test (~45 s a run on 2 cores).
#
# From a session with a GPU lent: `scripts/gpu-check.sh pack` here, then the device tool's run
# with carry ["target/gpu-carry"], command `bash scripts/gpu-check.sh run`, timeout_s 540; what
# it leaves in $OUT comes back (steps.txt, one log per step, benches/results/*-gpu.csv).
set -uo pipefail
cd "$(dirname "$0")/.."
carry=target/gpu-carry
binaries=(gcrl tests ae vae)

pack() {
  set -e
  local target=${CARGO_TARGET_DIR:-/work/target-cuda}
  local log
  log=$(mktemp)
  # CUDARC_CUDA_VERSION: the driver's CUDA on the GPU machines (13.0); no nvcc is needed here.
  CUDARC_CUDA_VERSION=${CUDARC_CUDA_VERSION:-13000} CARGO_TARGET_DIR=$target \
    cargo build --release --features cuda --bin gcrl --test main --bench ae --bench vae \
    --message-format=json-render-diagnostics >"$log"
  mkdir -p "$carry"
  python3 - "$log" "$carry" <<'EOF'
import json, shutil, sys
log, carry = sys.argv[1:3]
names = {("bin", "gcrl"): "gcrl", ("test", "main"): "tests", ("bench", "ae"): "ae", ("bench", "vae"): "vae"}
found = {}
for line in open(log):
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        key = (m["target"]["kind"][0], m["target"]["name"])
        if key in names:
            found[names[key]] = m["executable"]
missing = set(names.values()) - set(found)
if missing:
    sys.exit(f"the build named no executable for {sorted(missing)}")
for name, path in found.items():
    shutil.copyfile(path, f"{carry}/{name}")
EOF
  for b in "${binaries[@]}"; do
    strip "$carry/$b"
    xz -T0 -6 -f "$carry/$b"
  done
  rm -f "$log"
  du -ch "$carry"/*.xz
}

run() {
  local out=${OUT:-target/gpu-check}
  local bin=target/gpu-bin
  mkdir -p "$out/benches/results" "$bin"
  : >"$out/steps.txt"
  local started=$SECONDS
  # step NAME LIMIT_S COMMAND...: runs it with its log in $out/NAME.log and records how it ended.
  step() {
    local name=$1 limit=$2
    shift 2
    local t=$SECONDS
    timeout "$limit" "$@" >"$out/$name.log" 2>&1
    local rc=$?
    echo "$name rc=$rc $((SECONDS - t)) s (at $((SECONDS - started)) s)" | tee -a "$out/steps.txt"
    cp benches/results/*-gpu.csv "$out/benches/results/" 2>/dev/null || true
    return 0
  }
  for b in "${binaries[@]}"; do
    xz -dc "$carry/$b.xz" >"$bin/$b" && chmod +x "$bin/$b"
  done
  export GCRL_BIN=$PWD/$bin/gcrl GCRL_BENCH_ROOT=$PWD GCRL_BENCH_GPU=0
  export GCRL_BENCH_REPEATS=${GCRL_BENCH_REPEATS:-3} GCRL_BENCH_PERMUTATION_REPEATS=${GCRL_BENCH_PERMUTATION_REPEATS:-2}
  export GCRL_BENCH_DIR=$PWD/target/gpu-bench
  # The PyTorch of the GPU machine (its plain python3 is the same one).
  export GCRL_PYTHON=${GCRL_PYTHON:-$(command -v /opt/torch/.venv/bin/python3 || command -v python3)}
  # The kernels compile at run time with NVRTC against the toolkit's headers (CUDA_PATH, else
  # /usr/local/cuda): its lib64 goes on the library path.
  local cuda=${CUDA_PATH:-/usr/local/cuda}
  if [[ -d $cuda/lib64 ]]; then export LD_LIBRARY_PATH=$cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}; fi
  step environment 30 bash -c 'nvidia-smi; echo "CUDA_PATH=${CUDA_PATH:-unset}"; ls -d /usr/local/cuda*/include;
    ldconfig -p | grep -E "libnvrtc|libcuda[.]so"; "$GCRL_PYTHON" -c "import torch; print(torch.__version__, torch.cuda.get_device_name(0))"'
  step test 120 "$bin/tests" --ignored --exact cli::gpu::cpu_and_gpu_trainings_agree_within_float_tolerance
  step ae 220 "$bin/ae"
  step vae 120 "$bin/vae"
  echo "total $((SECONDS - started)) s" | tee -a "$out/steps.txt"
}

case "${1:-}" in
  pack) pack ;;
  run) run ;;
  *)
    echo "usage: scripts/gpu-check.sh pack|run" >&2
    exit 2
    ;;
esac
