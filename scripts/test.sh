#!/usr/bin/env bash
# Every test: install what the tests need (DCMTK, Orthanc, dicom3tools),
# vet, run the whole suite with real peers on loopback, then run each fuzz
# target briefly. FUZZTIME (default 10s) sets how long each fuzz target runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
. scripts/env.sh
export TCP_NODELAY=1
go vet ./...
go test -count=1 -timeout 30m ./...
fuzztime="${FUZZTIME:-8s}"
for target in \
  "./dimse/pdu FuzzDecode" \
  "./dimse/msg FuzzDecode" \
  "./part10 FuzzTranscode" \
  "./part10 FuzzReadMeta" \
  "./rawdata FuzzReadFile" \
  "./rules FuzzParseBytes" \
  "./num/array FuzzReadNPY" \
  "./num/array FuzzParseCFLHeader" \
  "./gateway FuzzScanSegment"; do
  set -- $target
  # The whole output only when the target fails (a failing input is written
  # to the package's testdata/fuzz and named there).
  if ! out=$(go test -run '^$' -fuzz "^$2\$" -fuzztime "$fuzztime" "$1" 2>&1); then
    echo "$out"
    exit 1
  fi
  echo "$out" | tail -n 2
done
