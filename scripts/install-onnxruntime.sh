#!/usr/bin/env bash
# Installs ONNX Runtime's shared library for tweedie's score-model runtime
# (reconstruct/onnx): libonnxruntime.so.1 from the npm package
# onnxruntime-node@1.30.0 (bin/napi-v6/linux/x64/), checked against a pinned
# SHA-256, into a stable absolute path. Idempotent: a correct copy already in
# place is left alone.
#
# The package's tarball is fetched with curl straight from the npm registry
# (no npm, no node-* packages): it is the one prebuilt, versioned download of
# the library that the machines here can reach; the SHA-256 of the library
# itself is what is trusted.
#
#   DEST (default /usr/local/lib/tweedie) is the folder it goes to; tweedie
#   finds it there by default, or through ONNXRUNTIME_SHARED_LIBRARY_PATH or
#   the configuration's onnx.library. scripts/build-deb.sh uses DEST to put
#   it into the Debian package.
#
# The npm build is the CPU build: it carries no CUDA or TensorRT provider
# libraries (device: auto falls back to the CPU with a warning, cuda is an
# error). scripts/install-onnxruntime-cuda.sh installs a build with them
# into $DEST/cuda (docs/models.md, "GPU"; untested on a GPU).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ORT_VERSION=1.30.0
ORT_SHA256=ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23
REGISTRY="${NPM_REGISTRY:-https://registry.npmjs.org}"
DEST="${DEST:-/usr/local/lib/tweedie}"
LIB="$DEST/libonnxruntime.so.1"

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) ;;
  *) echo "install-onnxruntime: only linux/x86_64 is pinned (this is $(uname -s)/$(uname -m))" >&2; exit 1 ;;
esac

if [ -f "$LIB" ] && echo "$ORT_SHA256  $LIB" | sha256sum -c --status; then
  step "ONNX Runtime $ORT_VERSION: $LIB already in place"
  exit 0
fi

step "ONNX Runtime $ORT_VERSION into $LIB" "the score-model runtime of the diffusion reconstructors loads it (the only C library tweedie uses)"
if ! command -v curl >/dev/null 2>&1; then
  apt_update
  apt_run install --no-install-recommends curl ca-certificates
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
url="$REGISTRY/onnxruntime-node/-/onnxruntime-node-$ORT_VERSION.tgz"
note "fetching $url"
curl -fsSL --retry 3 -o "$tmp/ort.tgz" "$url"
note "$(du -h "$tmp/ort.tgz" | cut -f1) fetched; extracting bin/napi-v6/linux/x64/libonnxruntime.so.1"
tar -xzf "$tmp/ort.tgz" -C "$tmp" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
got="$tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1"
if ! echo "$ORT_SHA256  $got" | sha256sum -c --status; then
  echo "install-onnxruntime: SHA-256 of libonnxruntime.so.1 from onnxruntime-node@$ORT_VERSION is $(sha256sum "$got" | cut -d' ' -f1), want $ORT_SHA256" >&2
  exit 1
fi
if [ -w "$(dirname "$DEST")" ] || [ -w "$DEST" ]; then S=""; else S="$SUDO"; fi
$S mkdir -p "$DEST"
$S install -m 0644 "$got" "$LIB.tmp"
$S mv -f "$LIB.tmp" "$LIB"
note "installed $LIB (SHA-256 checked)"
