"""Training and validation data for tweedie's priors (../shared/data, see its README).

Training files only; validation files are read by `validation()` for the
held-out denoising loss (a learning curve), never by `TrainSet`.

Augmentation (issue 12; chosen for diffusion priors from few images):
- geometric: left-right flips, small rotations (±10°), and pixel-size jitter
  by resampling each slice to a random pixel size inside the range the node
  sees (CT 0.9–2.0 mm, MR 0.75–2.0 mm), anti-aliased when shrinking. Karras et
  al., "Elucidating the Design Space of Diffusion-Based Generative Models"
  (NeurIPS 2022, §5 and App. F) show that geometric augmentation keeps a small
  data set's prior from memorising; we use only transforms that produce
  plausible anatomy (no 90° rotations: an axial CT or MR slice has a known
  orientation, and the prior should keep it), so no augmentation label is
  needed (their "non-leaking" conditioning is for transforms off the data
  manifold).
- intensity: CT stays calibrated in HU (gain ±5 % about water); MR magnitude
  gets gamma 0.8–1.25 (contrast jitter between T1 weightings), scale 0.8–1.2
  and a smooth random phase (two channels: real, imaginary), as the node's
  percentile normalisation and complex data demand.
"""
import os

import numpy as np
import torch
import torch.nn.functional as F

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "data")
CT_LOW, CT_HIGH = -1000.0, 1000.0

# (file, pixel mm, sampling weight). Cranium (GPL-2) is not in the default set:
# the weights embedded in the binary must not derive from copyleft data.
CT_TRAIN = [
    ("ct/lungdx_a0001_chest_hu_256.npy", 1.684, 0.30),
    ("ct/lungdx_a0002_chest_hu_256.npy", 1.293, 0.20),
    ("ct/totalseg_abdomen_hu_256.npy", 1.953, 0.20),
    ("ct/totalseg_abdomen_pelvis_hu_3mm_128.npy", 3.0, 0.15),
    ("ct/gehead_hu_256.npy", 0.977, 0.15),
]
CT_CRANIUM = ("ct/cranium_hu_256.npy", 0.957, 0.15)
CT_PIXEL = (0.9, 2.0)

MR_TRAIN = [
    ("mri/colin27_t1_axial_256.npy", 1.0, 0.35),
    ("mri/colin27_t1_axial_128.npy", 2.0, 0.10),
    ("mri/vsseg_t1c_256.npy", 0.820, 0.35),
    ("mri/seg3d_cardiac_t1c_256.npy", 1.5625, 0.20),
]
MR_PIXEL = (0.75, 2.0)

# Held out: never trained on (the shared data README's validation files).
CT_VAL = ["ct/covid_nysbu_axial_hu_256.npy", "ct/ct1_chest_hu_256.npy"]
MR_VAL = ["mri/itk_t1_coronal_128.npy", "mri/pyradiomics_brain_tumour_256.npy"]


class TrainSet:
    def __init__(self, modality, data=DATA, cranium=False, log=print):
        self.modality = modality
        spec = list(CT_TRAIN if modality == "ct" else MR_TRAIN)
        if modality == "ct" and cranium:
            spec.append(CT_CRANIUM)
        self.stacks, self.pixels, w = [], [], []
        for f, px, weight in spec:
            v = np.load(os.path.join(data, f)).astype(np.float32)
            keep = []
            vq = np.percentile(v, 99)
            for s in v:
                if modality == "ct":
                    x = (s - CT_LOW) / (CT_HIGH - CT_LOW)
                    if (x > 0.1).mean() < 0.1:  # slices that are mostly air
                        continue
                else:
                    q = np.percentile(s, 99)
                    if q < 0.3 * vq or (s > 0.1 * q).mean() < 0.08:  # nearly empty slices
                        continue
                    x = s / q
                keep.append(x)
            log(f"{f}: {len(keep)} of {v.shape[0]} slices, {px} mm")
            self.stacks.append(torch.from_numpy(np.stack(keep)))
            self.pixels.append(px)
            w.append(weight)
        self.probs = np.array(w) / np.sum(w)
        self.prange = CT_PIXEL if modality == "ct" else MR_PIXEL

    def sample(self, rng, size):
        """One augmented size×size crop, [1, H, W] magnitude (MR) or window-scaled HU (CT)."""
        i = rng.choice(len(self.stacks), p=self.probs)
        st, native = self.stacks[i], self.pixels[i]
        lo = max(self.prange[0], native / 1.5)  # upsample at most 1.5×
        hi = max(lo, min(self.prange[1], native * 2.0))
        for _try in range(8):
            s = st[rng.integers(len(st))][None, None]
            target = rng.uniform(lo, hi)
            z = native / target
            H, W = s.shape[-2:]
            h, w = max(8, int(round(H * z))), max(8, int(round(W * z)))
            if (h, w) != (H, W):
                s = F.interpolate(s, size=(h, w), mode="bilinear", align_corners=False, antialias=z < 1)
            ang = np.deg2rad(rng.uniform(-10, 10))
            c, sn = np.cos(ang), np.sin(ang)
            # crop centre anywhere that keeps at least half the crop inside
            cy = rng.uniform(-max(0, h - size) / h, max(0, h - size) / h) if h > size else 0.0
            cx = rng.uniform(-max(0, w - size) / w, max(0, w - size) / w) if w > size else 0.0
            fl = -1.0 if rng.random() < 0.5 else 1.0
            theta = torch.tensor([[fl * c * size / w, -sn * size / w, cx],
                                  [fl * sn * size / h, c * size / h, cy]], dtype=torch.float32)[None]
            grid = F.affine_grid(theta, (1, 1, size, size), align_corners=False)
            crop = F.grid_sample(s, grid, mode="bilinear", padding_mode="zeros", align_corners=False)[0]
            if (crop > 0.1).float().mean() > 0.15:
                break
        return crop

    def batch(self, rng, size, n):
        x = torch.stack([self.sample(rng, size) for _ in range(n)])
        if self.modality == "mr":
            x = x.clamp(min=0)
            g = torch.from_numpy(rng.uniform(np.log(0.8), np.log(1.25), (n, 1, 1, 1)).astype(np.float32)).exp()
            x = x ** g
            x = x * torch.from_numpy(rng.uniform(0.8, 1.2, (n, 1, 1, 1)).astype(np.float32))
            ph = smooth_field(rng, n, size, rng.uniform(0.3, 1.5))
            x = torch.cat([x * torch.cos(ph), x * torch.sin(ph)], dim=1)
        else:
            g = torch.from_numpy(rng.uniform(0.95, 1.05, (n, 1, 1, 1)).astype(np.float32))
            x = 0.5 + (x - 0.5) * g
        return x


def smooth_field(rng, n, size, amp):
    g = torch.from_numpy(rng.standard_normal((n, 1, 4, 4)).astype(np.float32))
    g = F.interpolate(g, size=(size, size), mode="bicubic", align_corners=False)
    off = torch.from_numpy(rng.uniform(-np.pi, np.pi, (n, 1, 1, 1)).astype(np.float32))
    return g * amp + off


def validation(modality, data=DATA):
    """Fixed validation images as the network sees them: {name: [N, C, H, W]}."""
    out = {}
    if modality == "ct":
        for f in CT_VAL:
            v = np.load(os.path.join(data, f)).astype(np.float32)
            v = v[::4]  # 5 of the 20 body slices (5 patients): the curve, cheaply
            out[os.path.basename(f)] = torch.from_numpy((v - CT_LOW) / (CT_HIGH - CT_LOW))[:, None]
    else:
        for f in MR_VAL:
            v = np.load(os.path.join(data, f)).astype(np.float32)
            n = v.shape[0]
            v = v[np.linspace(n * 0.3, n * 0.7, 6).astype(int)]
            v = v / np.percentile(v, 99, axis=(1, 2), keepdims=True)
            H, W = v.shape[1:]
            yy, xx = np.mgrid[0:H, 0:W] / max(H, W)
            ph = 0.8 * np.sin(3 * yy + 2 * xx)
            out[os.path.basename(f)] = torch.from_numpy(np.stack([v * np.cos(ph), v * np.sin(ph)], 1).astype(np.float32))
    return out


VAL_T = (30, 100, 250, 500)


@torch.no_grad()
def validation_loss(net, val, abar):
    """eps-MSE at fixed noise levels with a fixed noise draw, per file and t."""
    net.eval()
    res = {}
    for name, x0 in val.items():
        g = torch.Generator().manual_seed(1234)
        for t in VAL_T:
            a = abar[t].cpu()
            eps = torch.randn(x0.shape, generator=g)
            xt = a.sqrt() * x0 + (1 - a).sqrt() * eps
            tot = 0.0
            for i in range(0, x0.shape[0], 4):
                e = net(xt[i:i + 4].to(abar.device), torch.full((min(4, x0.shape[0] - i),), float(t), device=abar.device))
                tot += ((e.cpu() - eps[i:i + 4]) ** 2).sum().item()
            res[f"{name}@{t}"] = tot / eps.numel()
    net.train()
    return res
