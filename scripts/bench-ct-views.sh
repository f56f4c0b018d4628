#!/usr/bin/env bash
# Sparse-view CT on the validation slice (NEMA CT1 chest, not a training
# subject): simulate parallel-beam sinograms at 8, 16 and 32 views on a grid
# twice as fine as the reconstruction grid, wrap them as raw-data DICOM,
# reconstruct with fbp, sirt and admm-tv through `tweedie recon`, and score
# with `tweedie eval --ct`. Prints a Markdown table for docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
go build -o bin/tweedie ./cmd/tweedie
data=${SHARED_DATA:-../shared/data}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "| views | method | PSNR (dB) | SSIM | time (s) |"
echo "|---|---|---|---|---|"
for v in 8 16 32; do
  bin/tweedie simulate ct --images "$data/ct/ct1_chest_hu_256.npy" --views "$v" --sinogram "$tmp/s.npy" --ref "$tmp/ref.npy" >/dev/null
  bin/tweedie wrap ct --sinogram "$tmp/s.npy" --angles "linspace:0:180:$v" --geometry parallel --detector-mm 0.957 \
    --image-size 256 --pixel-mm 0.957 --out "$tmp/s.dcm" >/dev/null
  for m in fbp sirt admm-tv; do
    t0=$(date +%s.%N)
    bin/tweedie recon --reconstructor "$m" --log-level warn --out "$tmp/out-$m-$v" --export "$tmp/$m.npy" "$tmp/s.dcm" >/dev/null
    t1=$(date +%s.%N)
    bin/tweedie eval --ct --ref "$tmp/ref.npy" --test "$tmp/$m.npy" |
      /usr/bin/python3 -c "import json,sys; r=json.load(sys.stdin); print('| $v | $m | %.2f | %.4f | %.2f |' % (r['psnr'], r['ssim'], $t1-$t0))"
  done
done
