#!/usr/bin/python3
"""Train a small VP / eps-prediction UNet score model by denoising score matching.

    /usr/bin/python3 tools/train/train.py --modality mr --minutes 50 --run tools/train/runs/mr
    /usr/bin/python3 tools/train/train.py --modality ct --minutes 50 --run tools/train/runs/ct

MR: Colin27 T1 slices (1 mm 256² and 2 mm 128²) scaled so that the 99th
percentile of |u| over the whole slice is 1 (what tweedie's `percentile`
normalisation does with the initial estimate), times a smooth random phase:
2 channels (real, imaginary). CT: Cranium head CT in HU mapped by the card's
hu-window, x = (HU - low)/(high - low), 1 channel. Random crops at native pixel
size (sides divisible by 16), flips, 90° rotations and intensity jitter.

The run folder (gitignored) holds ckpt.pt, written every --ckpt-minutes and at
the end; rerunning the same command resumes from it (step, optimiser, EMA and
the elapsed training time all carry over, so --minutes is a total budget).
A GPU is used when torch sees one.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from unet import UNet, vp_alphas_cumprod  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "data")
CT_LOW, CT_HIGH = -1000.0, 1000.0


def load_mr(data):
    """Slices normalised so that the 99th percentile of |u| is 1."""
    out = []
    for f in ("colin27_t1_axial_256.npy", "colin27_t1_axial_128.npy"):
        v = np.load(os.path.join(data, "mri", f)).astype(np.float32)
        imgs = []
        for s in v:
            q = np.percentile(s, 99)
            if q < 0.3 or (s > 0.05).mean() < 0.08:  # nearly empty slices
                continue
            imgs.append(s / q)
        out.append(np.stack(imgs))
        print(f"{f}: {len(imgs)} slices of {v.shape[0]}", flush=True)
    return out


def load_ct(data):
    hu = np.load(os.path.join(data, "ct", "cranium_hu_256.npy")).astype(np.float32)
    lo = np.load(os.path.join(data, "ct", "cranium_01_128.npy")).astype(np.float32) * 4095 - 1024
    return [(hu - CT_LOW) / (CT_HIGH - CT_LOW), (lo - CT_LOW) / (CT_HIGH - CT_LOW)]


def smooth_field(rng, n, size, amp):
    g = torch.from_numpy(rng.standard_normal((n, 1, 4, 4)).astype(np.float32))
    g = F.interpolate(g, size=(size, size), mode="bicubic", align_corners=False)
    off = torch.from_numpy(rng.uniform(-np.pi, np.pi, (n, 1, 1, 1)).astype(np.float32))
    return g * amp + off


def batch(rng, stacks, probs, size, n, modality):
    xs = []
    for _ in range(n):
        st = stacks[rng.choice(len(stacks), p=probs)]
        for _try in range(8):
            s = st[rng.integers(len(st))]
            H, W = s.shape
            c = min(size, H, W)
            r0, c0 = rng.integers(0, H - c + 1), rng.integers(0, W - c + 1)
            crop = s[r0:r0 + c, c0:c0 + c]
            if (crop > 0.1).mean() > 0.15:
                break
        if c < size:
            crop = np.pad(crop, ((0, size - c), (0, size - c)))
        crop = np.rot90(crop, rng.integers(4))
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        xs.append(np.ascontiguousarray(crop))
    x = torch.from_numpy(np.stack(xs))[:, None]
    if modality == "mr":
        x = x * torch.from_numpy(rng.uniform(0.8, 1.2, (n, 1, 1, 1)).astype(np.float32))
        ph = smooth_field(rng, n, size, rng.uniform(0.3, 1.5))
        x = torch.cat([x * torch.cos(ph), x * torch.sin(ph)], dim=1)
    else:
        # HU are calibrated: a small gain jitter around water only
        g = torch.from_numpy(rng.uniform(0.95, 1.05, (n, 1, 1, 1)).astype(np.float32))
        x = 0.5 + (x - 0.5) * g
    return x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--modality", choices=["mr", "ct"], required=True)
    ap.add_argument("--run", required=True, help="run folder (checkpoints; gitignored)")
    ap.add_argument("--minutes", type=float, default=50, help="total training budget, summed over resumes")
    ap.add_argument("--deadline", default="", help="UTC HH:MM: stop then at the latest")
    ap.add_argument("--ckpt-minutes", type=float, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--lr", type=float, default=4e-4)
    ap.add_argument("--pixels", type=int, default=8 * 96 * 96, help="pixels per batch")
    ap.add_argument("--sizes", default="64,80,96,112,128")
    ap.add_argument("--base", type=int, default=32)
    ap.add_argument("--nres", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    os.makedirs(a.run, exist_ok=True)
    ch = 2 if a.modality == "mr" else 1
    model = UNet(channels=ch, base=a.base, nres=a.nres).to(dev)
    ema = UNet(channels=ch, base=a.base, nres=a.nres).to(dev)
    ema.load_state_dict(model.state_dict())
    for p in ema.parameters():
        p.requires_grad_(False)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    nparam = sum(p.numel() for p in model.parameters())
    step, elapsed, losses = 0, 0.0, []
    ck = os.path.join(a.run, "ckpt.pt")
    if os.path.exists(ck):
        s = torch.load(ck, map_location=dev)
        model.load_state_dict(s["model"])
        ema.load_state_dict(s["ema"])
        opt.load_state_dict(s["opt"])
        step, elapsed, losses = s["step"], s["elapsed"], s.get("losses", [])
        print(f"resumed {ck}: step {step}, {elapsed / 60:.1f} min", flush=True)
    rng = np.random.default_rng(a.seed + step)
    stacks = load_mr(DATA) if a.modality == "mr" else load_ct(DATA)
    probs = np.array([0.6, 0.4]) if a.modality == "mr" else np.array([0.8, 0.2])
    sizes = [int(s) for s in a.sizes.split(",")]
    abar = vp_alphas_cumprod().to(dev)
    print(f"{a.modality}: {nparam} parameters, device {dev}, threads {a.threads}", flush=True)
    deadline = None
    if a.deadline:
        hh, mm = map(int, a.deadline.split(":"))
        now = time.gmtime()
        deadline = time.time() + ((hh * 60 + mm) - (now.tm_hour * 60 + now.tm_min)) * 60 - now.tm_sec

    def save():
        tmp = ck + ".tmp"
        torch.save({"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(), "step": step,
                    "elapsed": elapsed, "losses": losses, "args": vars(a), "parameters": nparam,
                    "modality": a.modality, "base": a.base, "nres": a.nres, "ct_window": [CT_LOW, CT_HIGH]}, tmp)
        os.replace(tmp, ck)

    last_ck = time.time()
    t_start = time.time() - elapsed
    run_loss = None
    while True:
        elapsed = time.time() - t_start
        if elapsed >= a.minutes * 60 or (deadline and time.time() >= deadline):
            break
        frac = elapsed / (a.minutes * 60)
        lr = a.lr * (1.0 if frac < 0.7 else 1.0 - 0.75 * (frac - 0.7) / 0.3)
        for g in opt.param_groups:
            g["lr"] = lr
        size = sizes[rng.integers(len(sizes))]
        n = max(4, int(round(a.pixels / size ** 2)))
        x0 = batch(rng, stacks, probs, size, n, a.modality).to(dev)
        t = torch.from_numpy(rng.integers(0, 1000, n)).to(dev)
        eps = torch.randn_like(x0)
        ab = abar[t][:, None, None, None]
        xt = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
        loss = F.mse_loss(model(xt, t.float()), eps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        d = min(0.999, (1 + step) / (10 + step))
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.mul_(d).add_(pm, alpha=1 - d)
        run_loss = loss.item() if run_loss is None else 0.98 * run_loss + 0.02 * loss.item()
        if step % 25 == 0:
            losses.append((step, time.time() - t_start, run_loss))
            print(f"step {step} t {(time.time() - t_start) / 60:.1f} min loss {run_loss:.4f} lr {lr:.2e} size {size} batch {n}", flush=True)
        if time.time() - last_ck > a.ckpt_minutes * 60:
            elapsed = time.time() - t_start
            save()
            last_ck = time.time()
    elapsed = time.time() - t_start
    save()
    print(f"done: step {step}, {elapsed / 60:.1f} min, loss {run_loss}", flush=True)
    with open(os.path.join(a.run, "summary.json"), "w") as f:
        json.dump({"modality": a.modality, "steps": step, "minutes": elapsed / 60, "final_loss": run_loss,
                   "parameters": nparam, "device": str(dev), "threads": a.threads}, f, indent=1)


if __name__ == "__main__":
    main()
