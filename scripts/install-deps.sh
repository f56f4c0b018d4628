#!/usr/bin/env bash
# Installs what tweedie's run and test commands need on a fresh Debian 12:
# the Debian packages the tests use as real peers (DCMTK, Orthanc,
# dicom3tools) and a Go toolchain new enough for go.mod. Idempotent.
set -euo pipefail
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

pkgs=(dcmtk orthanc dicom3tools bart python3-numpy python3-skimage python3-onnx python3-pil ca-certificates git)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
updated=0
if ((${#missing[@]})); then
  $SUDO apt-get update -qq; updated=1
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Orthanc's package enables a system service on 4242/8042; the tests run
# their own instances on free loopback ports and do not need it.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet orthanc 2>/dev/null; then
  $SUDO systemctl disable --now orthanc >/dev/null 2>&1 || true
fi

# Go: go.mod asks for 1.26. A Go of 1.21 or newer fetches that toolchain from
# the module proxy by itself (GOTOOLCHAIN=auto); Debian 12's own golang-go is
# 1.19, so an older or missing Go is replaced by golang-1.23 from
# bookworm-backports, which then fetches 1.26.
want_minor=21
have_go() {
  local v
  v=$(go env GOVERSION 2>/dev/null || true)      # e.g. go1.26.8
  [[ $v =~ ^go1\.([0-9]+) ]] && (( BASH_REMATCH[1] >= want_minor ))
}
if ! have_go; then
  for d in /usr/local/go/bin /usr/lib/go-1.23/bin; do
    [ -x "$d/go" ] && export PATH="$d:$PATH"
  done
fi
if ! have_go; then
  if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "deb http://deb.debian.org/debian bookworm-backports main" | $SUDO tee /etc/apt/sources.list.d/backports.list >/dev/null
    updated=0
  fi
  [ $updated -eq 1 ] || $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq -t bookworm-backports golang-1.23-go >/dev/null
  export PATH="/usr/lib/go-1.23/bin:$PATH"
fi
go version >&2

# ONNX Runtime for the score-model runtime (reconstruct/onnx).
bash "$(dirname "$0")/install-onnxruntime.sh"
