#!/usr/bin/env bash
# The main job: install what building and running tweedie needs (a Go
# toolchain, the Go modules, the ONNX Runtime library: install-deps.sh
# serve says what and why, step by step), build, and run `tweedie serve` on
# its embedded defaults (AE title TWEEDIE, port 11112, state in
# ./tweedie-state). Extra arguments go to `tweedie serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
bash scripts/install-deps.sh serve
. scripts/env.sh
step "Building bin/tweedie" "go build ./cmd/tweedie (the first build compiles the NATS server and the rest: a minute or two)"
mkdir -p bin
go build -o bin/tweedie ./cmd/tweedie
step "Starting bin/tweedie serve $*" "it prints what it will do with what it receives; Ctrl-C stops it"
exec bin/tweedie serve "$@"
