#!/usr/bin/env bash
# The demo: start `tweedie serve` on its embedded defaults (state in
# ./demo-state, listening on 127.0.0.1:11112 unless DEMO_PORT says
# otherwise), send it the undersampled MR study and the sparse-view CT study
# of testdata/demo, wait for the reconstructed series, and write a preview
# PNG of each. The embedded rules send MR k-space and CT sinograms to dds
# with the shipped priors; the results land in the built-in folder
# destination, demo-state/outgoing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
bash scripts/install-deps.sh serve
. scripts/env.sh
step "Building bin/tweedie" "go build ./cmd/tweedie"
go build -o bin/tweedie ./cmd/tweedie
state=${DEMO_STATE:-demo-state}
port=${DEMO_PORT:-11112}
rm -rf "$state"
mkdir -p "$state"
# The embedded defaults, kept on loopback for the demo.
step "Starting tweedie serve on 127.0.0.1:$port" "state in $state, its log in $state/serve.log"
bin/tweedie serve --listen "127.0.0.1:$port" --state "$state" > "$state/serve.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 150); do
  bin/tweedie echo "TWEEDIE@127.0.0.1:$port" >/dev/null 2>&1 && break
  sleep 0.2
done
step "Sending the demo studies to TWEEDIE@127.0.0.1:$port" "an undersampled brain MR study and a 16-view chest CT study (testdata/demo)"
bin/tweedie send --calling-ae DEMO "TWEEDIE@127.0.0.1:$port" testdata/demo/mr testdata/demo/ct
step "Waiting for the reconstructions" "MR: 4 slices, CT: 1 slice; dds on the CPU takes a minute or so"
want=5
deadline=$((SECONDS + 900))
while :; do
  n=$(find "$state/outgoing" -name '*.dcm' 2>/dev/null | wc -l)
  [ "$n" -ge "$want" ] && break
  if [ -n "$(ls -A "$state/quarantine" 2>/dev/null)" ]; then
    echo "a job failed; see $state/quarantine and $state/serve.log" >&2
    exit 1
  fi
  if [ $SECONDS -gt $deadline ]; then
    echo "timed out waiting for the reconstructions; see $state/serve.log" >&2
    exit 1
  fi
  sleep 1
done
step "The reconstructed series are in $state/outgoing:"
ls "$state/outgoing"
bin/tweedie preview --out-dir "$state/previews" --copy-to "$state/series" "$state"/outgoing/*.dcm
step "Previews in $state/previews, the series one per folder in $state/series; the audit trail is $state/audit.log"
# Score each series against the image its raw data were simulated from (the
# MR series has the 4 slices, the CT series the single one).
for d in "$state"/series/*/; do
  if [ "$(ls "$d" | wc -l)" -eq 4 ]; then
    echo "$(basename "$d"): $(bin/tweedie eval --ref testdata/demo/mr-reference.npy --test "$d")"
  else
    echo "$(basename "$d"): $(bin/tweedie eval --ct --ref testdata/demo/ct-reference.npy --test "$d")"
  fi
done
