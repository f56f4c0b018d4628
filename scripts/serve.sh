#!/usr/bin/env bash
# The main job: install what is needed, build, and run `tweedie serve` on
# its embedded defaults (AE title TWEEDIE, port 11112, state in ./tweedie-state).
# Extra arguments go to `tweedie serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
. scripts/env.sh
mkdir -p bin
go build -o bin/tweedie ./cmd/tweedie
exec bin/tweedie serve "$@"
