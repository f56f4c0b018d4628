#!/usr/bin/env bash
# Installs what tweedie's scripts need on a fresh Debian 12, step by step,
# saying what each step is for and what it changes on the system.
# Idempotent: what is already there is left alone.
#
#   install-deps.sh serve   what building and running tweedie needs: a Go
#                           toolchain new enough for go.mod, the Go modules,
#                           the ONNX Runtime library (serve.sh, demo.sh)
#   install-deps.sh [test]  the same, plus the real peers and reference tools
#                           the tests compare against (test.sh)
#
# Everything it changes is listed at the end, and in the README ("Side
# effects of the scripts") with how to undo each.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
mode="${1:-test}"
case "$mode" in serve|test) ;; *) echo "usage: install-deps.sh [serve|test]" >&2; exit 2 ;; esac
changed=()

# 1. Debian packages.
base=(ca-certificates curl git)
why_base="ca-certificates and curl: HTTPS to the Go module proxy and to the npm registry (the ONNX Runtime library); git: Go modules outside the proxy"
test_pkgs=(dcmtk orthanc dicom3tools bart ismrmrd-tools python3-numpy python3-skimage python3-pywt python3-onnx python3-pil python3-torch python3-h5py python3-xsdata lintian)
why_test="real peers and reference implementations the tests compare against: dcmtk (storescp, storescu, dcmdump), orthanc (a PACS), dicom3tools (dciodvfy), bart (pics, ecalib), ismrmrd-tools (MRD phantoms with their ground truth), numpy, scikit-image (iradon, SSIM), pywt, onnx (test graphs), PIL (tools/eval), torch (a resumed training step from the committed priors' state), h5py and xsdata (what ismrmrd-python needs beside numpy, for the MRD reference client test, TestServeMRDClientPy: ismrmrd-python and python-ismrmrd-server themselves are not in Debian, docs/mrd.md); lintian checks the Debian package"
want=("${base[@]}")
[ "$mode" = test ] && want+=("${test_pkgs[@]}")
mapfile -t missing < <(missing_pkgs "${want[@]}")
if ((${#missing[@]})); then
  # The reasons of the packages that are missing, not of all of them.
  mapfile -t missing_base < <(missing_pkgs "${base[@]}")
  why=""
  ((${#missing_base[@]})) && why="$why_base"
  ((${#missing[@]} > ${#missing_base[@]})) && why="${why:+$why; }$why_test"
  step "Debian packages (${#missing[@]}: ${missing[*]})" "$why"
  apt_update
  apt_run install --no-install-recommends "${missing[@]}"
  changed+=("Debian packages installed: ${missing[*]} (and what they depend on)")
else
  step "Debian packages: all ${#want[@]} already installed"
fi
# Orthanc's package enables a system service on 4242/8042; the tests run
# their own instances on free loopback ports and do not need it.
if [ "$mode" = test ] && command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet orthanc 2>/dev/null; then
  step "Stopping and disabling the orthanc service" "its package starts one on ports 4242 and 8042; the tests start their own on free loopback ports"
  $SUDO systemctl disable --now orthanc >/dev/null 2>&1 || true
  changed+=("the orthanc system service disabled (systemctl enable --now orthanc to undo)")
fi

# 2. Go. go.mod asks for 1.26. A Go of 1.21 or newer fetches that toolchain
# from the module proxy by itself (GOTOOLCHAIN=auto); Debian 12's own
# golang-go is 1.19, so an older or missing Go is replaced by golang-1.23
# from bookworm-backports, which then fetches 1.26.
want_minor=21
have_go() {
  local v
  v=$(GOTOOLCHAIN=local go env GOVERSION 2>/dev/null || true)      # e.g. go1.26.8
  [[ $v =~ ^go1\.([0-9]+) ]] && (( BASH_REMATCH[1] >= want_minor ))
}
if ! have_go; then
  for d in /usr/local/go/bin /usr/lib/go-1.23/bin; do
    [ -x "$d/go" ] && export PATH="$d:$PATH"
  done
fi
if ! have_go; then
  step "Go 1.23 from bookworm-backports" "Debian 12's golang-go (1.19) is too old to fetch the Go that go.mod names"
  if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    note "adding the APT source /etc/apt/sources.list.d/backports.list (bookworm-backports; nothing is taken from it unless asked for by -t)"
    echo "deb http://deb.debian.org/debian bookworm-backports main" | $SUDO tee /etc/apt/sources.list.d/backports.list >/dev/null
    changed+=("APT source /etc/apt/sources.list.d/backports.list (bookworm-backports)")
    unset TWEEDIE_APT_UPDATED
  fi
  apt_update
  apt_run install --no-install-recommends -t bookworm-backports golang-1.23-go
  changed+=("Debian package golang-1.23-go from bookworm-backports, in /usr/lib/go-1.23")
  export PATH="/usr/lib/go-1.23/bin:$PATH"
fi
. scripts/env.sh
gomod=$(GOTOOLCHAIN=local go env GOMODCACHE)
need="go$(sed -n 's/^go //p' go.mod)"
have=$(GOTOOLCHAIN=local go env GOVERSION)
if [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n 1)" != "$need" ]; then
  if compgen -G "$gomod/golang.org/toolchain@v0.0.1-$need.*" >/dev/null; then
    step "Go toolchain $need (go.mod asks for it; this Go is $have): already in $gomod/golang.org"
  else
    step "Go toolchain $need (go.mod asks for it; this Go is $have)" "downloaded by go itself from proxy.golang.org into $gomod/golang.org/toolchain@*"
  fi
  changed+=("Go toolchain $need in $gomod/golang.org (part of the module cache)")
fi
go version >&2
step "Go modules (go.sum pins them: NATS server, Prometheus client, zerolog, ONNX Runtime binding, gonum, YAML)" "into the module cache $gomod"
# One line per module downloaded (none when the cache has them all).
golog=$(mktemp -t tweedie-gomod.XXXXXX.log)
if ! go mod download -x 2>&1 | tee "$golog" | sed -unE 's|^# get https?://[^/]+/(.*)/@v/(.*)\.zip: 200 OK \((.*)\)$|    \1 \2 (\3)|p' >&2; then
  echo "go mod download failed; the end of $golog:" >&2; tail -n 20 "$golog" >&2; exit 1
fi
rm -f "$golog"
changed+=("Go module cache $gomod: $(du -sh "$gomod" 2>/dev/null | cut -f1) (go clean -modcache to empty it); build cache $(go env GOCACHE) (go clean -cache)")

# 3. The ONNX Runtime library for the score-model runtime.
bash scripts/install-onnxruntime.sh
changed+=("ONNX Runtime library in ${DEST:-/usr/local/lib/tweedie} (rm -r it to undo)")

step "Done. What the scripts keep on this system (README: side effects, and how to undo them)"
for c in "${changed[@]}"; do note "$c"; done
[ -n "${TWEEDIE_APT_LOG:-}" ] && note "apt-get's whole output: $TWEEDIE_APT_LOG"
exit 0
