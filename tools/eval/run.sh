#!/usr/bin/env bash
# Evaluate every reconstructor on the validation images (subjects not in the
# shipped models' training data) and write docs/results.md and the montages
# docs/results-mri.png and docs/results-ct.png.
#
#   tools/eval/run.sh            # everything (~15 min on 2 cores)
#   SKIP_SAMPLES=1 SKIP_CT200=1 tools/eval/run.sh   # without the dds sample means (MR) and nfe=200 (CT)
#   WORK=DIR RESUME=1 tools/eval/run.sh  # continue in DIR, skipping rows already in results.tsv
#
# MRI: ../shared/data/mri/itk_t1_coronal_128.npy slices 18,22,26,30,34,38
# (ITK T1 head, 2 mm), 8 coils with smooth maps, smooth phase, 1 % noise,
# equispaced masks 4× and 8× with 8 % ACS (`tweedie simulate mr`); methods
# zero-filled, cg-sense, l1-wavelet, tv, BART pics -l1 (λ = 0.005, 100 it.,
# as reconstruct/bart_test.go) and dds (shipped model: defaults, nfe=200
# (chosen on training images, tools/eval/tune-dds.sh), means of 4 and of 8
# samples).
# CT: ../shared/data/ct/ct1_chest_hu_256.npy (NEMA CT1 chest), parallel beam
# at 8, 16, 32 views projected on a grid twice as fine as the reconstruction
# grid (`tweedie simulate ct`); methods fbp, sirt, admm-tv, dds (nfe 50, 200,
# and CCDF from ADMM-TV at t0 = 0.3, chosen on Cranium training slices).
# Scores: `tweedie eval` (PSNR over the volume with L = the reference's
# maximum, SSIM per slice; --ct for CT). Time: wall time of the whole
# command (process start, ESPIRiT, model load included) per slice.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/env.sh
go build -o bin/tweedie ./cmd/tweedie
data=$(cd "${SHARED_DATA:-../shared/data}" && pwd)
work=${WORK:-$(mktemp -d -t tweedie-eval.XXXX)}
mkdir -p "$work"
res="$work/results.tsv"
[ -n "${RESUME:-}" ] || : > "$res"
done_already() { grep -q "^$1	$2	$3	" "$res" 2>/dev/null; }
# The shipped models: dds must find them with no models folder configured.
unset TWEEDIE_MODELS
export TWEEDIE_ONNX_DEVICE=${TWEEDIE_ONNX_DEVICE:-cpu}
repo=$(pwd)
T=$repo/bin/tweedie
EVAL=$repo/tools/eval
cd "$work"
score() { # modality setting method ref test seconds slices [--ct]
  local j
  j=$($T eval ${8:-} --ref "$4" --test "$5")
  /usr/bin/python3 -c "import json,sys; r=json.loads(sys.argv[1]); print('\t'.join(['$1','$2','$3','%.3f'%r['psnr'],'%.4f'%r['ssim'],'%.3f'%($6/$7),'$5']))" "$j" >> "$res"
  tail -n 1 "$res"
}
timed() { local t0 t1; t0=$(date +%s.%N); "$@" > /dev/null; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }

/usr/bin/python3 -c "
import numpy as np; v=np.load('$data/mri/itk_t1_coronal_128.npy'); np.save('val6.npy', v[[18,22,26,30,34,38]])"
for setting in "4 0.08" "8 0.08"; do
  set -- $setting; acc=$1; acs=$2; tag="${acc}x-acs$(printf '%.0f' "$(echo "$acs*100" | bc)")"
  [ -f "k-$tag.dcm" ] || {
  $T simulate mr --images val6.npy --accel "$acc" --acs "$acs" --coils 8 --noise 0.01 \
    --kspace "k-$tag.npy" --mask-out "m-$tag.npy" --ref "ref-$tag.npy" > "sim-$tag.txt"
  $T wrap mr --kspace "k-$tag.npy" --mask "m-$tag.npy" --orientation coronal --pixel-mm 2 --slice-mm 3 --out "k-$tag.dcm" > /dev/null; }
  for m in zero-filled cg-sense l1-wavelet tv "dds" "dds nfe=200" "dds samples=4 nfe=200" "dds samples=8 nfe=400"; do
    set -- $m; name=$1; shift
    [ -n "${SKIP_SAMPLES:-}" ] && [[ "$m" == *samples* ]] && continue
    label=$(echo "$m" | tr ' ' '_')
    done_already MR "$tag" "$label" && continue
    sets=(); for kv in "$@"; do sets+=(--set "$kv"); done
    [ "$name" = dds ] && sets+=(--set seed=1)
    s=$(timed $T recon --reconstructor "$name" "${sets[@]}" --log-level warn --out "out-$tag-$label" --export "$label-$tag.npy" "k-$tag.dcm")
    score MR "$tag" "$label" "ref-$tag.npy" "$label-$tag.npy" "$s" 6
  done
  done_already MR "$tag" bart_pics_-l1 ||
  s=$(timed /usr/bin/python3 "$EVAL/bart_pics.py" "k-$tag.npy" "bart-$tag.npy" -l1 -r 0.005 -i 100)
  done_already MR "$tag" bart_pics_-l1 || score MR "$tag" "bart_pics_-l1" "ref-$tag.npy" "bart-$tag.npy" "$s" 6
done

for v in 8 16 32; do
  tag="${v}v"
  $T simulate ct --images "$data/ct/ct1_chest_hu_256.npy" --views "$v" --sinogram "s-$tag.npy" --ref "ref-$tag.npy" > /dev/null
  $T wrap ct --sinogram "s-$tag.npy" --angles "linspace:0:180:$v" --geometry parallel --detector-mm 0.957 \
    --image-size 256 --pixel-mm 0.957 --out "s-$tag.dcm" > /dev/null
  for m in fbp sirt admm-tv dds "dds nfe=200" "dds nfe=200 init=admm-tv t0=0.3"; do
    [ -n "${SKIP_CT200:-}" ] && [[ "$m" == *200* ]] && continue
    set -- $m; name=$1; shift
    label=$(echo "$m" | tr ' ' '_')
    done_already CT "$tag" "$label" && continue
    sets=(); for kv in "$@"; do sets+=(--set "$kv"); done
    [ "$name" = dds ] && sets+=(--set seed=1)
    s=$(timed $T recon --reconstructor "$name" "${sets[@]}" --log-level warn --out "out-$tag-$label" --export "$label-$tag.npy" "s-$tag.dcm")
    score CT "$tag" "$label" "ref-$tag.npy" "$label-$tag.npy" "$s" 1 --ct
  done
done
cd "$repo"
/usr/bin/python3 tools/eval/report.py "$work"
echo "results: $res; docs/results.md, docs/results-mri.png, docs/results-ct.png"
