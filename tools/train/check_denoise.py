#!/usr/bin/python3
"""Denoising check of a checkpoint on validation-style images (no training data):
PSNR of Tweedie's x0-estimate at a few noise levels.

    check_denoise.py CKPT [--raw]
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from unet import UNet, vp_alphas_cumprod  # noqa: E402

torch.set_num_threads(1)
s = torch.load(sys.argv[1], map_location="cpu")
mod = s["modality"]
net = UNet(channels=2 if mod == "mr" else 1, base=s.get("base", 32), nres=s.get("nres", 1))
net.load_state_dict(s["model"] if "--raw" in sys.argv else s["ema"])
net.eval()
data = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "data")
if mod == "mr":
    v = np.load(os.path.join(data, "mri", "itk_t1_coronal_128.npy"))[[22, 30]]
    v = v / np.percentile(v, 99, axis=(1, 2), keepdims=True)
    yy, xx = np.mgrid[0:128, 0:128] / 128
    ph = 0.8 * np.sin(3 * yy + 2 * xx)
    x0 = torch.from_numpy(np.stack([v * np.cos(ph), v * np.sin(ph)], 1).astype(np.float32))
else:
    v = np.load(os.path.join(data, "ct", "ct1_chest_hu_256.npy"))
    x0 = torch.from_numpy(((v + 1000) / 2000).astype(np.float32))[:, None]
ab = vp_alphas_cumprod()
g = torch.Generator().manual_seed(0)
peak = x0.abs().max().item()
print(f"step {s['step']}, {s['elapsed'] / 60:.1f} min")
for t in [20, 100, 300, 600, 900]:
    a = ab[t]
    eps = torch.randn(x0.shape, generator=g)
    xt = a.sqrt() * x0 + (1 - a).sqrt() * eps
    with torch.no_grad():
        e = net(xt, torch.full((x0.shape[0],), float(t)))
    x0h = (xt - (1 - a).sqrt() * e) / a.sqrt()
    mse = ((x0h - x0) ** 2).mean().item()
    mse_in = ((xt / a.sqrt() - x0) ** 2).mean().item()
    print(f"t {t}: noisy {10 * np.log10(peak ** 2 / mse_in):6.2f} dB  x0-estimate {10 * np.log10(peak ** 2 / mse):6.2f} dB  eps mse {((e - eps) ** 2).mean().item():.4f}")
