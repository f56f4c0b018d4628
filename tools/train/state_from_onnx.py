#!/usr/bin/python3
"""Write the compact training state (tools/train/state/MODALITY.pt, see train.py) of a shipped MR model
from its ONNX file, when its training checkpoint is gone: fp16 weights as the EMA, the step count and
minutes from its card, so that training continues from the shipped prior on any machine.

    git show 6f61232:models/tweedie_mr_unet.onnx > /tmp/mr_float.onnx
    /usr/bin/python3 tools/train/state_from_onnx.py /tmp/mr_float.onnx --steps 7036 --minutes 150

The input must be a float model (tools/train/export.py's graph): the shipped MR model is its INT8
form since 6912cb0, and tools/train/state/mr.pt was made from the float one of 6f61232.
"""
import argparse
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from quantize import torch_from_onnx  # noqa: E402
import data as D  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("onnx")
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--minutes", type=float, required=True)
    ap.add_argument("--out", default=os.path.join(HERE, "state", "mr.pt"))
    a = ap.parse_args()
    net = torch_from_onnx(a.onnx)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    torch.save({"ema16": {k: v.half() for k, v in net.state_dict().items()}, "step": a.steps, "elapsed": a.minutes * 60,
                "modality": "mr", "base": 32, "nres": 1, "parameters": sum(p.numel() for p in net.parameters()),
                "ct_window": [D.CT_LOW, D.CT_HIGH], "cranium": False, "curve": [],
                "from": os.path.basename(a.onnx)}, a.out)
    print(f"{a.out}: step {a.steps}, {a.minutes} min, {os.path.getsize(a.out) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
