#!/usr/bin/python3
"""Export a trained checkpoint (EMA weights) to ONNX with its model card.

    /usr/bin/python3 tools/train/export.py --ckpt tools/train/runs/mr/ckpt.pt --name tweedie_mr_unet --out models
    /usr/bin/python3 tools/train/export.py --ckpt tools/train/state/ct.pt --name tweedie_ct_unet --out models

--ckpt takes a full checkpoint (train.py's RUN/ckpt.pt) or a compact state
(tools/train/state/MOD.pt: fp16 EMA weights, also what train_gpu.py writes).

Writes OUT/NAME.onnx (opset 17; inputs x [N, C, H, W] float32 and t [N]
float32 in [0, 999]; output eps [N, C, H, W]; batch, height and width
dynamic), OUT/NAME.yaml (the card, docs/models.md) and updates
OUT/SHA256SUMS. The card lists every size with sides in 64..512 divisible
by 16 (the network is fully convolutional).
"""
import argparse
import hashlib
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from unet import UNet  # noqa: E402

SIZES = [[r, c] for r in range(64, 513, 16) for c in range(64, 513, 16)]


def export_onnx(net, channels, path, check_size=64):
    net.eval()
    x = torch.randn(2, channels, check_size, check_size)
    t = torch.tensor([10.0, 500.0])
    torch.onnx.export(net, (x, t), path, opset_version=17, input_names=["x", "t"], output_names=["eps"],
                      dynamic_axes={"x": {0: "N", 2: "H", 3: "W"}, "t": {0: "N"}, "eps": {0: "N", 2: "H", 3: "W"}},
                      do_constant_folding=True)
    import onnx
    onnx.checker.check_model(onnx.load(path))


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def yq(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_card(out, name, modality, channels, output_channels, description, training_data, licence, normalisation,
               default, sizes=SIZES, parameterisation="eps", schedule=None):
    schedule = schedule or {"kind": "vp", "beta_min": 0.0001, "beta_max": 0.02, "steps": 1000}
    onnx_path = os.path.join(out, name + ".onnx")
    digest = sha256(onnx_path)
    lines = [f"name: {name}", f"description: {yq(description + f' (sha256 of {name}.onnx: {digest})')}",
             f"file: {name}.onnx", f"modality: {modality}", f"parameterisation: {parameterisation}", "schedule:"]
    lines += [f"  {k}: {v}" for k, v in schedule.items()]
    lines += ["inputs:", "  image: x", "  time: t", "output: eps", f"channels: {channels}",
              f"output_channels: {output_channels}", "sizes: ["]
    for i in range(0, len(sizes), 8):
        lines.append("  " + ", ".join(f"[{r}, {c}]" for r, c in sizes[i:i + 8]) + ",")
    lines[-1] = lines[-1].rstrip(",")
    lines += ["]", "batch: 0", "normalisation:"]
    lines += [f"  {k}: {v}" for k, v in normalisation.items()]
    lines += [f"training_data: {yq(training_data)}", f"licence: {yq(licence)}", f"default: {'true' if default else 'false'}", ""]
    with open(os.path.join(out, name + ".yaml"), "w") as f:
        f.write("\n".join(lines))
    sums = os.path.join(out, "SHA256SUMS")
    entries = {}
    if os.path.exists(sums):
        for ln in open(sums):
            p = ln.split()
            if len(p) == 2:
                entries[p[1]] = p[0]
    entries[name + ".onnx"] = digest
    with open(sums, "w") as f:
        for k in sorted(entries):
            f.write(f"{entries[k]}  {k}\n")
    return digest


MR_DATA = ("Colin27 T1 (MNI single-subject 'ch2', one healthy adult, average of 27 scans; Debian mricron-data "
           "1.2.20211006), axial slices at 1 mm (256x256) and 2 mm (128x128), each scaled so that its 99th "
           "percentile of |u| is 1, times a smooth random phase (real, imaginary); random 64-128 px crops, flips, "
           "90-degree rotations, intensity scale 0.8-1.2. Not trained on: the ITK T1 head and every other image "
           "used for validation.")
MR_LICENCE = ("BSD-3-Clause (the Colin27 data's licence as declared by Debian mricron-data; see models/README.md)")
CT_DATA = ("Cranium head CT (one patient, 104 axial slices, 0.957 mm pixels, 1.5 mm slices; Debian invesalius-examples "
           "3.1.99998, GPL-2), HU mapped to x = (HU + 1000)/2000; random 64-128 px crops of the 256x256 slices and "
           "of the 128x128 (1.9 mm) stack, flips, 90-degree rotations, gain jitter 0.95-1.05 about water. Not "
           "trained on: the NEMA CT1 chest slice used for validation.")
CT_LICENCE = ("GPL-2.0 (trained on GPL-2 data: the weights may be a derivative work of the Cranium data set, so they "
              "are distributed under the GPL-2 terms to be safe; see models/README.md)")

# Priors v2 (issue 12): the training files of tools/train/data.py, none copyleft
# (../shared/data/licenses/NOTICES-v2.md).
CT_DATA_V2 = ("Body and head CT of five subjects, none copyleft: chest CT of two patients (TCIA Lung-PET-CT-Dx "
              "A0001/A0002, CC BY 4.0), abdomen and abdomen-pelvis CT of two (TotalSegmentator test files, "
              "Apache-2.0 / CC BY 4.0), a head CT (dcm_qa_ct GE head, BSD-2-Clause); HU mapped to "
              "x = (HU + 1000)/2000; random 64-160 px crops after resampling to 0.9-2.0 mm pixels, left-right "
              "flips, rotations of +-10 degrees, gain jitter 0.95-1.05 about water (tools/train/data.py). Not "
              "trained on: the COVID-19-NY-SBU body slices and the NEMA CT1 chest slice used for validation.")
CT_LICENCE_V2 = ("Apache-2.0, with attribution of the training data (CC BY 4.0: TCIA Lung-PET-CT-Dx, "
                 "TotalSegmentator; BSD-2-Clause: dcm_qa_ct); see models/README.md and NOTICE")
MR_DATA_V2 = ("Colin27 T1 (Debian mricron-data, BSD-3-Clause) alone for the first 7036 steps, then Colin27, "
              "TCIA Vestibular-Schwannoma-SEG T1 post-contrast (VS-SEG-001; BSD-2-Clause redistribution, CC BY "
              "4.0) and Seg3DData cardiac MR (MIT); each slice scaled so that its 99th percentile of |u| is 1, "
              "gamma 0.8-1.25, scale 0.8-1.2, a smooth random phase (real, imaginary); random 64-160 px crops "
              "after resampling to 0.75-2.0 mm pixels, left-right flips, rotations of +-10 degrees "
              "(tools/train/data.py). Not trained on: the ITK T1 head and the pyradiomics brain-tumour MR used "
              "for validation.")
MR_LICENCE_V2 = ("Apache-2.0, with attribution of the training data (BSD-3-Clause: Colin27; CC BY 4.0: TCIA "
                 "VS-SEG; MIT: Seg3DData); see models/README.md and NOTICE")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--out", default="models")
    ap.add_argument("--raw", action="store_true", help="export the raw (not EMA) weights")
    ap.add_argument("--no-default", action="store_true")
    a = ap.parse_args()
    s = torch.load(a.ckpt, map_location="cpu")
    modality = s["modality"]
    ch = 2 if modality == "mr" else 1
    net = UNet(channels=ch, base=s.get("base", 32), nres=s.get("nres", 1))
    if "ema16" in s:  # compact state: EMA weights only, stored in fp16
        if a.raw:
            sys.exit(f"{a.ckpt}: a compact state holds only the EMA weights")
        net.load_state_dict({k: v.float() for k, v in s["ema16"].items()})
    else:
        net.load_state_dict(s["model"] if a.raw else s["ema"])
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, a.name + ".onnx")
    export_onnx(net, ch, path)
    if s.get("losses"):
        loss = f"final loss {s['losses'][-1][2]:.4f}"
    else:
        v = [r for r in s.get("curve", []) if "val_mean" in r]
        loss = f"held-out eps-MSE {v[-1]['val_mean']:.4f}" if v else "loss not recorded"
    gpu = s.get("gpu_seconds", 0.0)
    where = f"for {s['elapsed'] / 60:.0f} minutes on the CPU"
    if gpu:
        cpu_min = (s["elapsed"] - gpu) / 60
        where = (f"{cpu_min:.0f} minutes on the CPU and {gpu / 60:.1f} minutes on one {s.get('gpu_device', 'GPU')} "
                 f"({s.get('gpu_steps', 0)} steps of {s.get('gpu_batch_pixels', 0) / 1e6:.2f} M pixels; "
                 f"tools/train/train_gpu.py)")
    desc = (f"{s['parameters'] / 1e6:.2f} M-parameter UNet (base {s.get('base', 32)}, multipliers 1/2/4, "
            f"{s.get('nres', 1)} res block(s) down and {s.get('nres', 1) + 1} up per level, GroupNorm, SiLU, sinusoidal "
            f"time embedding, no attention), VP eps-prediction, trained by denoising score matching with "
            f"tools/train/train.py, {s['step']} steps ({loss}, {'EMA' if not a.raw else 'raw'} weights), "
            f"{where}; fully convolutional, "
            f"any size divisible by 16")
    v2 = "train_files" in s  # written by the v2 training (data.py's file lists)
    if modality == "mr":
        d = write_card(a.out, a.name, "MR", 2, 2, desc, MR_DATA_V2 if v2 else MR_DATA,
                       MR_LICENCE_V2 if v2 else MR_LICENCE,
                       {"method": "percentile", "percentile": 99, "value": 1}, not a.no_default)
    else:
        lo, hi = s.get("ct_window", [-1000.0, 1000.0])
        if v2 and s.get("cranium", False):
            sys.exit(f"{a.ckpt}: trained with the GPL-2 Cranium head; not exported as a shipped model")
        d = write_card(a.out, a.name, "CT", 1, 1, desc, CT_DATA_V2 if v2 else CT_DATA,
                       CT_LICENCE_V2 if v2 else CT_LICENCE,
                       {"method": "hu-window", "low": lo, "high": hi}, not a.no_default)
    print(f"{path}: {os.path.getsize(path) / 1e6:.1f} MB, sha256 {d}")


if __name__ == "__main__":
    main()
