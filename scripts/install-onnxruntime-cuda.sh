#!/usr/bin/env bash
# Installs a CUDA-capable ONNX Runtime for tweedie's score-model runtime
# (reconstruct/onnx) into its own folder, beside the CPU build of
# scripts/install-onnxruntime.sh, which it does not touch:
#
#   $DEST/cuda/libonnxruntime.so.1                   ONNX Runtime 1.29.0
#   $DEST/cuda/libonnxruntime_providers_shared.so
#   $DEST/cuda/libonnxruntime_providers_cuda.so      CUDA execution provider
#   $DEST/cuda/libonnxruntime_providers_tensorrt.so  TensorRT execution provider
#   $DEST/cuda/LICENSE                               MIT (Microsoft)
#
# They come from two npm packages (Unity packages of the same ONNX Runtime
# build, MIT), fetched with curl from the npm registry like the CPU build:
#   com.github.asus4.onnxruntime@0.4.9             libonnxruntime.so (1.29.0)
#   com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9  the provider libraries
# Both tarballs and every library taken from them are SHA-256 pinned.
#
# ONNX Runtime loads the provider libraries from the folder of
# libonnxruntime.so.1, so tweedie only needs the library's path:
#   onnx: {library: $DEST/cuda/libonnxruntime.so.1}   (configuration), or
#   ONNXRUNTIME_SHARED_LIBRARY_PATH=$DEST/cuda/libonnxruntime.so.1
# and TWEEDIE_ONNX_DEVICE / onnx.device auto (TensorRT, CUDA, then CPU with a
# warning) or cuda[:N]. The build's CPU provider works without any GPU.
#
# LIMIT (found by loading it, see docs/models.md): this libonnxruntime.so is
# built without USE_CUDA. The CUDA and TensorRT providers load only as
# plugin execution-provider libraries (RegisterExecutionProviderLibrary,
# then OrtEpDevice selection: SessionOptionsAppendExecutionProvider_V2);
# CreateCUDAProviderOptions, which onnxruntime_go v1.27.0's
# AppendExecutionProviderCUDA uses, answers "CUDA execution provider is not
# enabled in this build." on any machine. Until reconstruct/onnx registers
# the provider library and selects its devices (the binding lacks
# GetEpDevices/AppendExecutionProvider_V2), tweedie runs this build on the
# CPU: device auto falls back with a warning naming that reason.
#
# Checks, in order; each failure is a clear refusal, nothing half-installed:
#   1. the pairing: the C API version that github.com/yalue/onnxruntime_go
#      (go.mod) requests — ORT_API_VERSION of its vendored
#      onnxruntime_c_api.h, 24 for v1.27.0 — must be served by the library
#      (a library serves every API version up to its own: 29 for 1.29.0);
#      probed by calling OrtGetApiBase()->GetApi(N) with python3 when there
#      is one, else read from the library's symbol version (VERS_1.29.0);
#   2. whether the CUDA libraries the CUDA provider needs resolve (ldd, ld
#      cache, LD_LIBRARY_PATH). When they do not, the folder is installed
#      all the same but tweedie keeps using the CPU build, and the script
#      names what is missing and what a GPU server needs.
#
# Usage:
#   scripts/install-onnxruntime-cuda.sh            install (idempotent), then check CUDA
#   scripts/install-onnxruntime-cuda.sh --check    only check an installed folder;
#                                                  exit 3 when the CUDA libraries are missing
#   DEST (default /usr/local/lib/tweedie): the CUDA build goes to $DEST/cuda.
#   TWEEDIE_ORT_CUDA_TARBALLS: a folder already holding the two .tgz files
#     (e.g. from `npm pack`); used instead of downloading when their
#     SHA-256 match.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/lib.sh"

ORT_VERSION=1.29.0
PKG_VERSION=0.4.9
CORE_PKG=com.github.asus4.onnxruntime
GPU_PKG=com.github.asus4.onnxruntime.linux-x64-gpu
CORE_TGZ_SHA256=e59788788818fdde1b2e522e766a21ba0f7d8391de55737abf81e32cc801785d
GPU_TGZ_SHA256=2b459e0c17f340c92970c10ed86de4f37a3009f93c14053e6ad4334cbb6be412
# file in $DEST/cuda  package  member (under package/Plugins/Linux/x64/)  SHA-256
FILES=(
  "libonnxruntime.so.1 core libonnxruntime.so 5715f06d8992ca8eeeddcce43df3a7d38f97d537052126f558e912cb312460ca"
  "libonnxruntime_providers_shared.so gpu libonnxruntime_providers_shared.so c6a12593396095f5670160e284c35d1700b7708cf3037b7042e2a5200ccae772"
  "libonnxruntime_providers_cuda.so gpu libonnxruntime_providers_cuda.so 56cf3254b118ad837ccc4ed8f6d1b23504bbf7ef91b34cbc0b289cb7f10b3037"
  "libonnxruntime_providers_tensorrt.so gpu libonnxruntime_providers_tensorrt.so ef6071798a339038ad66c428fb1a809cf8e499bffc3b6870e4e8bc4f4c6a6320"
)
# The Go binding this pin was checked against, and the C API version its
# header requests (used when the module cache is not there to read it).
BINDING_PINNED=v1.27.0
BINDING_API_PINNED=24
# What the CUDA provider needs (readelf -d NEEDED of
# libonnxruntime_providers_cuda.so; built with CUDA 13.0): the driver's
# libcuda.so.1 and the CUDA 13 runtime libraries. cuDNN 9 is not a NEEDED
# entry: the provider dlopens libcudnn.so.9 when it creates its first cuDNN
# handle (every convolution), and libcufft.so.12 only for FFT operators.
NEED_DRIVER=(libcuda.so.1)
NEED_RUNTIME=(libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libcurand.so.10)
NEED_DLOPEN=(libcudnn.so.9)
OPTIONAL_DLOPEN=(libcufft.so.12)

REGISTRY="${NPM_REGISTRY:-https://registry.npmjs.org}"
DEST="${DEST:-/usr/local/lib/tweedie}"
DIR="$DEST/cuda"
LIB="$DIR/libonnxruntime.so.1"
mode=install
case "${1:-}" in
  "") ;;
  --check) mode=check ;;
  *) echo "usage: install-onnxruntime-cuda.sh [--check]" >&2; exit 2 ;;
esac

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) ;;
  *) echo "install-onnxruntime-cuda: only linux/x86_64 is pinned (this is $(uname -s)/$(uname -m))" >&2; exit 1 ;;
esac

sha_ok() { echo "$1  $2" | sha256sum -c --status 2>/dev/null; }

# required_api prints the C API version the Go binding of go.mod requests.
required_api() {
  local gomod="$here/../go.mod" binding="" hdr="" v=""
  [ -f "$gomod" ] && binding=$(awk '$1 == "github.com/yalue/onnxruntime_go" {print $2; exit}' "$gomod")
  binding="${binding:-$BINDING_PINNED}"
  if command -v go >/dev/null 2>&1; then
    hdr="$(go env GOMODCACHE 2>/dev/null)/github.com/yalue/onnxruntime_go@$binding/onnxruntime_c_api.h"
    [ -f "$hdr" ] && v=$(awk '$1 == "#define" && $2 == "ORT_API_VERSION" {print $3; exit}' "$hdr")
  fi
  if [ -n "$v" ]; then
    note "onnxruntime_go $binding requests ORT C API version $v (ORT_API_VERSION in its onnxruntime_c_api.h)"
  elif [ "$binding" = "$BINDING_PINNED" ]; then
    v=$BINDING_API_PINNED
    note "onnxruntime_go $binding requests ORT C API version $v (pinned; its header is not in a Go module cache here)"
  else
    echo "install-onnxruntime-cuda: go.mod names onnxruntime_go $binding, not the $BINDING_PINNED this script was checked against, and its onnxruntime_c_api.h is not in the Go module cache (run: go mod download github.com/yalue/onnxruntime_go) — cannot check the pairing, refusing" >&2
    exit 1
  fi
  printf '%s\n' "$v"
}

# served_api LIB prints "VERSION MAXAPI" of an ONNX Runtime library.
served_api() {
  local out
  if command -v python3 >/dev/null 2>&1 && out=$(python3 - "$1" 2>/dev/null <<'PY'
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
class Base(ctypes.Structure):
    _fields_ = [("GetApi", ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_uint32)),
                ("GetVersionString", ctypes.CFUNCTYPE(ctypes.c_char_p))]
lib.OrtGetApiBase.restype = ctypes.POINTER(Base)
b = lib.OrtGetApiBase().contents
print(b.GetVersionString().decode(), max(v for v in range(1, 100) if b.GetApi(v)))
PY
  ); then
    printf '%s\n' "$out"
    return
  fi
  # ORT 1.N's symbols are versioned VERS_1.N.x and it serves API versions 1..N.
  out=$(grep -ao 'VERS_1\.[0-9]*\.[0-9]*' "$1" | sort -uV | tail -n1)
  [ -n "$out" ] || { echo "install-onnxruntime-cuda: cannot tell the version of $1" >&2; exit 1; }
  out=${out#VERS_}
  printf '%s %s\n' "$out" "$(cut -d. -f2 <<<"$out")"
}

check_pairing() {
  local want got ver api
  want=$(required_api)
  got=$(served_api "$1")
  read -r ver api <<<"$got"
  if [ "$ver" != "$ORT_VERSION" ]; then
    echo "install-onnxruntime-cuda: $1 reports ONNX Runtime $ver, want $ORT_VERSION — refusing" >&2
    exit 1
  fi
  if ((api < want)); then
    echo "install-onnxruntime-cuda: ONNX Runtime $ver serves C API versions 1..$api, but onnxruntime_go requests $want — this pairing cannot load; refusing" >&2
    exit 1
  fi
  note "pairing: ONNX Runtime $ver serves C API versions 1..$api ⊇ $want requested by onnxruntime_go — OK"
}

# resolvable SONAME: found by the dynamic loader (LD_LIBRARY_PATH, ld cache)?
resolvable() {
  local d
  IFS=: read -ra dirs <<<"${LD_LIBRARY_PATH:-}"
  for d in "${dirs[@]}"; do [ -n "$d" ] && [ -e "$d/$1" ] && return 0; done
  ldconfig -p 2>/dev/null | grep -q "^[[:space:]]*$1 " && return 0
  for d in /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu /lib64 /usr/lib64 /lib /usr/lib; do
    [ -e "$d/$1" ] && return 0
  done
  return 1
}

# check_cuda: 0 when the CUDA provider's libraries resolve; else prints
# what is missing and what a GPU server needs, and returns 3.
check_cuda() {
  local miss_drv=() miss_rt=() miss_dl=() miss_opt=() s nf
  # ldd sees exactly what dlopen of the provider would (NEEDED entries).
  nf=$(ldd "$DIR/libonnxruntime_providers_cuda.so" 2>/dev/null | awk '/not found/ {print $1}' || true)
  for s in "${NEED_DRIVER[@]}"; do grep -qx "$s" <<<"$nf" && miss_drv+=("$s"); done
  for s in "${NEED_RUNTIME[@]}"; do grep -qx "$s" <<<"$nf" && miss_rt+=("$s"); done
  for s in $nf; do
    case " ${NEED_DRIVER[*]} ${NEED_RUNTIME[*]} " in *" $s "*) ;; *) miss_rt+=("$s") ;; esac
  done
  for s in "${NEED_DLOPEN[@]}"; do resolvable "$s" || miss_dl+=("$s"); done
  for s in "${OPTIONAL_DLOPEN[@]}"; do resolvable "$s" || miss_opt+=("$s"); done
  if ((${#miss_drv[@]} + ${#miss_rt[@]} + ${#miss_dl[@]} == 0)); then
    note "CUDA: the provider's libraries resolve (${NEED_DRIVER[*]} ${NEED_RUNTIME[*]} ${NEED_DLOPEN[*]})"
    ((${#miss_opt[@]})) && note "optional, not found: ${miss_opt[*]} (cuFFT, only for FFT operators; the score models have none)"
    if command -v nvidia-smi >/dev/null 2>&1; then
      note "GPU: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -n1)"
    fi
    cat >&2 <<EOF
    tweedie uses this build when pointed at it:
      configuration:  onnx: {library: $LIB, device: auto}   (or device: cuda)
      environment:    ONNXRUNTIME_SHARED_LIBRARY_PATH=$LIB TWEEDIE_ONNX_DEVICE=cuda
    The log line "score model loaded" names the provider (CUDA, TensorRT or CPU).
    NOTE: this library is built without USE_CUDA; through onnxruntime_go v1.27.0's
    CUDA options it answers "CUDA execution provider is not enabled in this build"
    (the provider loads only as a plugin EP library) — see docs/models.md.
EOF
    return 0
  fi
  cat >&2 <<EOF
install-onnxruntime-cuda: the CUDA provider cannot be used on this machine; tweedie keeps using the CPU build ($DEST/libonnxruntime.so.1).
    missing:
EOF
  ((${#miss_drv[@]})) && echo "      ${miss_drv[*]} — the NVIDIA driver (and a GPU)" >&2
  ((${#miss_rt[@]})) && echo "      ${miss_rt[*]} — CUDA 13 runtime libraries" >&2
  ((${#miss_dl[@]})) && echo "      ${miss_dl[*]} — cuDNN 9 for CUDA 13 (loaded at run time by the CUDA provider)" >&2
  cat >&2 <<EOF
    A GPU server needs (from the NEEDED entries of libonnxruntime_providers_cuda.so, built with CUDA 13.0):
      - an NVIDIA driver that supports CUDA 13 (provides libcuda.so.1; nvidia-smi shows "CUDA Version: 13.x");
      - the CUDA 13 runtime libraries libcudart.so.13, libcublas.so.13, libcublasLt.so.13, libcurand.so.10
        (NVIDIA's apt repository: cuda-cudart-13-0 libcublas-13-0 libcurand-13-0);
      - cuDNN 9 built for CUDA 13, libcudnn.so.9 (NVIDIA's apt repository: libcudnn9-cuda-13);
      - optional: libcufft.so.12 (libcufft-13-0), TensorRT 10 (libnvinfer.so.10, libnvonnxparser.so.10) for the TensorRT provider.
    They must be on the loader's path (ld cache or LD_LIBRARY_PATH). Then check again:
      scripts/install-onnxruntime-cuda.sh --check
    The folder $DIR is installed and usable on the CPU (device: cpu, or auto, which falls back to the CPU with a warning).
EOF
  return 3
}

installed_ok() {
  local f name pkg member sha
  for f in "${FILES[@]}"; do
    read -r name pkg member sha <<<"$f"
    sha_ok "$sha" "$DIR/$name" || return 1
  done
}

if [ "$mode" = check ]; then
  step "ONNX Runtime $ORT_VERSION CUDA build in $DIR: check"
  installed_ok || { echo "install-onnxruntime-cuda: $DIR is not a complete, checked install; run scripts/install-onnxruntime-cuda.sh" >&2; exit 1; }
  check_pairing "$LIB"
  check_cuda
  exit $?
fi

if installed_ok; then
  step "ONNX Runtime $ORT_VERSION CUDA build: $DIR already in place (SHA-256 checked)"
  check_pairing "$LIB"
  check_cuda || true
  exit 0
fi

step "ONNX Runtime $ORT_VERSION CUDA build into $DIR" "the score networks' CUDA/TensorRT execution providers (npm $CORE_PKG and $GPU_PKG @$PKG_VERSION, about 330 MB to fetch)"
if ! command -v curl >/dev/null 2>&1; then
  apt_update
  apt_run install --no-install-recommends curl ca-certificates
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# fetch PKG SHA256: the package's tarball into $tmp/PKG.tgz.
fetch() {
  local pkg=$1 sha=$2 have="${TWEEDIE_ORT_CUDA_TARBALLS:-}/$1-$PKG_VERSION.tgz"
  if [ -n "${TWEEDIE_ORT_CUDA_TARBALLS:-}" ] && [ -f "$have" ] && sha_ok "$sha" "$have"; then
    note "using $have (SHA-256 checked)"
    ln -s "$(cd "$(dirname "$have")" && pwd)/$(basename "$have")" "$tmp/$pkg.tgz"
    return
  fi
  local url="$REGISTRY/$pkg/-/$pkg-$PKG_VERSION.tgz"
  note "fetching $url"
  curl -fsSL --retry 3 -o "$tmp/$pkg.tgz" "$url"
  if ! sha_ok "$sha" "$tmp/$pkg.tgz"; then
    echo "install-onnxruntime-cuda: SHA-256 of $pkg-$PKG_VERSION.tgz is $(sha256sum "$tmp/$pkg.tgz" | cut -d' ' -f1), want $sha — refusing" >&2
    exit 1
  fi
  note "$(du -h "$tmp/$pkg.tgz" | cut -f1) fetched, SHA-256 checked"
}
fetch "$CORE_PKG" "$CORE_TGZ_SHA256"
fetch "$GPU_PKG" "$GPU_TGZ_SHA256"

mkdir -p "$tmp/core" "$tmp/gpu" "$tmp/out"
tar -xzf "$tmp/$CORE_PKG.tgz" -C "$tmp/core" package/LICENSE package/Plugins/Linux/x64/libonnxruntime.so
tar -xzf "$tmp/$GPU_PKG.tgz" -C "$tmp/gpu" package/Plugins/Linux/x64/libonnxruntime_providers_shared.so \
  package/Plugins/Linux/x64/libonnxruntime_providers_cuda.so package/Plugins/Linux/x64/libonnxruntime_providers_tensorrt.so
for f in "${FILES[@]}"; do
  read -r name pkg member sha <<<"$f"
  got="$tmp/$pkg/package/Plugins/Linux/x64/$member"
  if ! sha_ok "$sha" "$got"; then
    echo "install-onnxruntime-cuda: SHA-256 of $member from the $pkg package is $(sha256sum "$got" | cut -d' ' -f1), want $sha — refusing" >&2
    exit 1
  fi
  mv "$got" "$tmp/out/$name"
done
cp "$tmp/core/package/LICENSE" "$tmp/out/LICENSE"
check_pairing "$tmp/out/libonnxruntime.so.1"

if [ -w "$(dirname "$DEST")" ] || [ -w "$DEST" ]; then S=""; else S="$SUDO"; fi
$S mkdir -p "$DIR"
for f in "${FILES[@]}"; do
  read -r name _ <<<"$f"
  $S install -m 0644 "$tmp/out/$name" "$DIR/$name.tmp"
  $S mv -f "$DIR/$name.tmp" "$DIR/$name"
done
$S install -m 0644 "$tmp/out/LICENSE" "$DIR/LICENSE"
note "installed $DIR ($(du -sh "$DIR" | cut -f1), SHA-256 checked)"
check_cuda || true
