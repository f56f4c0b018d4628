#!/bin/bash
# Continue both priors' training on one GPU from the committed compact states
# and leave the new states (and logs) in OUT, for a GPU machine that cannot
# see ../shared/data:
#
#   here:            /usr/bin/python3 tools/train/pack.py --modality ct --out .gpu/pool_ct.npz.xz
#                    /usr/bin/python3 tools/train/pack.py --modality mr --out .gpu/pool_mr.npz.xz
#   on the GPU host: OUT=DIR tools/train/gpu.sh [SECONDS]      (torch with CUDA; default 440 s)
#   back here:       cp DIR/state_ct.pt DIR/state_mr.pt into tools/train/state/ (ct.pt, mr.pt),
#                    check the learning curve (tools/train/curve.py), export and evaluate
#                    (models/README.md) before shipping.
#
# Both runs share the GPU side by side (on one H200: about 7 steps per second
# each at 1.18 M pixels per step; one alone about 14). Each writes its state
# every minute, so a run cut short still leaves one.
set -u
S=${1:-440}
OUT=${OUT:?set OUT to the folder for the states and logs}
cd "$(dirname "$0")/../.."
mkdir -p "$OUT"
nvidia-smi > "$OUT/gpu.txt" 2>&1
python3 -c "import torch; print(torch.__version__, torch.cuda.get_device_name(0))" >> "$OUT/gpu.txt" 2>&1
for m in ct mr; do
  PYTHONUNBUFFERED=1 python3 tools/train/train_gpu.py --modality $m --pool .gpu/pool_$m.npz.xz \
    --seconds "$S" --out "$OUT" > "$OUT/$m.log" 2>&1 &
done
wait
tail -n 3 "$OUT/ct.log" "$OUT/mr.log"
