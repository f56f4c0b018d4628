#!/usr/bin/env bash
# The GPU benchmark of the score-model runtime, in one command, on a fresh
# Debian 12 machine (install-deps.sh targets it; the NVIDIA step also knows Ubuntu) that has this repository and an NVIDIA driver:
#
#   scripts/bench-gpu.sh [RESULTS]     (default bench-gpu-HOST-DATE.txt)
#
# 1. Go, the Go modules and the CPU build of ONNX Runtime
#    (scripts/install-deps.sh serve); python3-onnx and numpy for the
#    random-weight benchmark UNet (tools/export_bench_unet.py);
# 2. the CUDA build (scripts/install-onnxruntime-cuda.sh); when the CUDA 13
#    runtime or cuDNN 9 are missing, they are installed from NVIDIA's apt
#    repository (cuda-keyring; set INSTALL_CUDA_LIBS=0 to refuse instead);
# 3. with TWEEDIE_ONNX_DEVICE=cuda and the CUDA build, the Go benchmarks of
#    reconstruct/onnx (bench_test.go) at 256²: BenchmarkNFE (one network
#    evaluation, batch 1), BenchmarkNFEBatch (batch 8, ms/image), and
#    BenchmarkDDSSlice (a dds slice, 50 evaluations, 8 coils); then
#    BenchmarkNFE on the same machine's CPU for the ratio.
# Everything — machine, driver, library, the benchmark output — goes to
# RESULTS. A benchmark that cannot open the CUDA provider fails with
# ONNX Runtime's reason, recorded there too (see docs/benchmarks.md: with
# the 1.29.0 build and onnxruntime_go v1.27.0 that is expected until the
# runtime registers the provider as a plugin EP library).
#   BENCHTIME (default 20x), COUNT (default 3): go test -benchtime / -count.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
res="${1:-bench-gpu-$(hostname -s)-$(date +%Y%m%d-%H%M%S).txt}"
BENCHTIME="${BENCHTIME:-20x}"
COUNT="${COUNT:-3}"
DEST="${DEST:-/usr/local/lib/tweedie}"
LIB="$DEST/cuda/libonnxruntime.so.1"

step "GPU" "the benchmark needs an NVIDIA driver and GPU"
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "bench-gpu: no working nvidia-smi: this machine has no NVIDIA driver or no GPU; install the driver (one that supports CUDA 13) first" >&2
  exit 1
fi
note "$(nvidia-smi -L | head -n1)"

scripts/install-deps.sh serve
. scripts/env.sh
mapfile -t missing < <(missing_pkgs python3 python3-numpy python3-onnx)
if ((${#missing[@]})); then
  step "Debian packages: ${missing[*]}" "tools/export_bench_unet.py writes the benchmark UNet with them"
  apt_update
  apt_run install --no-install-recommends "${missing[@]}"
fi

scripts/install-onnxruntime-cuda.sh
# NVIDIA's packages put the CUDA libraries under /usr/local/cuda-13.x.
for d in /usr/local/cuda-13*/targets/x86_64-linux/lib /usr/local/cuda/lib64; do
  [ -d "$d" ] && export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d"
done
set +e
scripts/install-onnxruntime-cuda.sh --check
rc=$?
set -e
if [ "$rc" -eq 3 ] && [ "${INSTALL_CUDA_LIBS:-1}" != 0 ]; then
  . /etc/os-release
  distro="${ID}$(tr -d . <<<"${VERSION_ID:-}")"      # debian12, ubuntu2204, ubuntu2404
  step "CUDA 13 runtime and cuDNN 9 from NVIDIA's apt repository ($distro)" "the CUDA provider needs libcudart.so.13, libcublas(Lt).so.13, libcurand.so.10 and libcudnn.so.9"
  if ! dpkg-query -W -f='${Status}' cuda-keyring 2>/dev/null | grep -q "install ok installed"; then
    tmp=$(mktemp -d)
    curl -fsSL --retry 3 -o "$tmp/cuda-keyring.deb" "https://developer.download.nvidia.com/compute/cuda/repos/$distro/x86_64/cuda-keyring_1.1-1_all.deb"
    $SUDO dpkg -i "$tmp/cuda-keyring.deb" >&2
    rm -rf "$tmp"
    unset TWEEDIE_APT_UPDATED
  fi
  apt_update
  apt_run install --no-install-recommends cuda-cudart-13-0 libcublas-13-0 libcurand-13-0 libcufft-13-0 libcudnn9-cuda-13
  $SUDO ldconfig
  for d in /usr/local/cuda-13*/targets/x86_64-linux/lib; do
    [ -d "$d" ] && export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d"
  done
  scripts/install-onnxruntime-cuda.sh --check
elif [ "$rc" -ne 0 ]; then
  exit "$rc"
fi

step "Benchmarks into $res" "TWEEDIE_ONNX_DEVICE=cuda, -benchtime $BENCHTIME -count $COUNT"
{
  echo "# tweedie GPU benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "# commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(go version)"
  echo "# library $LIB ($(sha256sum "$LIB" | cut -c1-16)…), LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | sed 's/^/# /'
  echo "# CPU: $(nproc) × $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
} >"$res"
export ONNXRUNTIME_SHARED_LIBRARY_PATH="$LIB"
set +e
TWEEDIE_ONNX_DEVICE=cuda go test ./reconstruct/onnx -run '^$' -bench '^(BenchmarkNFE|BenchmarkNFEBatch|BenchmarkDDSSlice)$/^256' \
  -benchtime "$BENCHTIME" -count "$COUNT" -timeout 60m 2>&1 | tee -a "$res"
gpu_rc=${PIPESTATUS[0]}
echo "# the same machine's CPU, for the ratio (TWEEDIE_ONNX_DEVICE=cpu)" >>"$res"
TWEEDIE_ONNX_DEVICE=cpu go test ./reconstruct/onnx -run '^$' -bench '^BenchmarkNFE$/^256$' \
  -benchtime 5x -count 1 -timeout 30m 2>&1 | tee -a "$res"
set -e
if [ "$gpu_rc" -ne 0 ]; then
  echo "bench-gpu: the CUDA benchmarks failed (exit $gpu_rc); ONNX Runtime's reason is in $res" >&2
  exit "$gpu_rc"
fi
grep -q 'provider CUDA\|provider TensorRT' "$res" || { echo "bench-gpu: the benchmarks did not run on a GPU provider; see $res" >&2; exit 1; }
step "Done: $res" "copy its figures into docs/benchmarks.md (GPU section)"
