#!/usr/bin/env bash
# Installs ONNX Runtime's shared library for tweedie's score-model runtime
# (reconstruct/onnx): libonnxruntime.so.1 from the npm package
# onnxruntime-node@1.30.0 (bin/napi-v6/linux/x64/), checked against a pinned
# SHA-256, into a stable absolute path. Idempotent: a correct copy already in
# place is left alone.
#
#   DEST (default /usr/local/lib/tweedie) is the folder it goes to; tweedie
#   finds it there by default, or through ONNXRUNTIME_SHARED_LIBRARY_PATH or
#   the configuration's onnx.library.
#
# The npm build is the CPU build: it carries no CUDA or TensorRT provider
# libraries, so device: cuda falls back to the CPU with a warning unless a
# CUDA-enabled build of the same version is installed beside it.
set -euo pipefail

ORT_VERSION=1.30.0
ORT_SHA256=ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23
DEST="${DEST:-/usr/local/lib/tweedie}"
LIB="$DEST/libonnxruntime.so.1"

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) ;;
  *) echo "install-onnxruntime: only linux/x86_64 is pinned (this is $(uname -s)/$(uname -m))" >&2; exit 1 ;;
esac

if [ -f "$LIB" ] && echo "$ORT_SHA256  $LIB" | sha256sum -c --status; then
  echo "install-onnxruntime: $LIB (ONNX Runtime $ORT_VERSION) already in place" >&2
  exit 0
fi

command -v npm >/dev/null 2>&1 || {
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null ||
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null; }
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "onnxruntime-node@$ORT_VERSION" >/dev/null)
tar -xzf "$tmp/onnxruntime-node-$ORT_VERSION.tgz" -C "$tmp" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
got="$tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1"
if ! echo "$ORT_SHA256  $got" | sha256sum -c --status; then
  echo "install-onnxruntime: SHA-256 of libonnxruntime.so.1 from onnxruntime-node@$ORT_VERSION is $(sha256sum "$got" | cut -d' ' -f1), want $ORT_SHA256" >&2
  exit 1
fi
mkdir -p "$DEST"
install -m 0644 "$got" "$LIB.tmp"
mv -f "$LIB.tmp" "$LIB"
echo "install-onnxruntime: installed ONNX Runtime $ORT_VERSION at $LIB" >&2
