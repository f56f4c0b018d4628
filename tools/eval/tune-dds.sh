#!/usr/bin/env bash
# Light tuning of dds's sampler settings on TRAINING images only (Colin27,
# 2 mm axial slices 50, 70, 90): never on the validation images.
#   tools/eval/tune-dds.sh "nfe=50" "nfe=100" "nfe=50 t0=0.5" ...
#   ACCS=8 MODEL=path.onnx tools/eval/tune-dds.sh ...   (one acceleration, another model)
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
data=$(cd "${SHARED_DATA:-../shared/data}" && pwd)
work=${WORK:-$(mktemp -d -t tweedie-tune.XXXX)}
mkdir -p "$work"; cd "$work"
T=$repo/bin/tweedie
unset TWEEDIE_MODELS
/usr/bin/python3 -c "
import numpy as np; v=np.load('$data/mri/colin27_t1_axial_128.npy'); np.save('tr3.npy', v[[50,70,90]])"
for acc in ${ACCS:-4 8}; do
  [ -f "k$acc.dcm" ] || {
    $T simulate mr --images tr3.npy --accel $acc --acs 0.08 --coils 8 --noise 0.01 --seed 7 --kspace k$acc.npy --mask-out m$acc.npy --ref ref$acc.npy > /dev/null
    $T wrap mr --kspace k$acc.npy --mask m$acc.npy --pixel-mm 2 --slice-mm 1 --out k$acc.dcm > /dev/null; }
  for m in "$@"; do
    sets=(--set seed=1); [ -n "${MODEL:-}" ] && sets+=(--set "model=$MODEL"); for kv in $m; do sets+=(--set "$kv"); done
    $T recon --reconstructor dds "${sets[@]}" --log-level error --out o --export d.npy k$acc.dcm > /dev/null
    echo "$acc× $m: $($T eval --ref ref$acc.npy --test d.npy)"
  done
done
