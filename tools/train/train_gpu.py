#!/usr/bin/python3
"""Continue a prior's training on a GPU for a fixed wall-clock time.

    python3 tools/train/train_gpu.py --modality ct --pool .gpu/pool_ct.npz.xz \
        --seconds 420 --out OUTDIR

For a GPU machine that cannot see ../shared/data: the training pool and the
validation images come packed by tools/train/pack.py. The model, the noise
schedule, the loss (eps-prediction denoising score matching, Ho et al. 2020),
the augmentations and the validation loss are tools/train/train.py's and
data.py's; what differs is what a GPU needs to be busy:
- the whole pool sits on the GPU and a batch is cut there: one affine
  grid_sample per stack does the flip, the ±10° rotation, the pixel-size
  jitter and the crop (data.py's TrainSet.sample does it slice by slice);
  shrinking by more than 1/0.7 samples a 2× antialiased copy instead of the
  full-size slice (data.py antialiases every shrink);
- batches are 16× larger (--pixels), in bfloat16 autocast, channels-last.
It warm-starts from the committed compact state (tools/train/state/MOD.pt:
model and EMA take its EMA weights; Adam starts afresh with a 200-step
warm-up) and writes the same compact format to OUTDIR/state_MOD.pt every
--save-seconds and at the end, so tools/train/train.py, export.py and the
next session read it unchanged. The state records which steps ran where
("gpu_steps", "gpu_seconds", and "device" in each learning-curve row), so a
learning curve never mixes CPU minutes and GPU minutes silently.
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
import data as D  # noqa: E402
import pack  # noqa: E402
from train import save_compact  # noqa: E402


class Pool:
    """The packed training pool on the device, batches cut there."""

    def __init__(self, arrays, modality, dev):
        self.modality = modality
        q = float(arrays["quantum"])
        self.pixels = [float(p) for p in arrays["pixels"]]
        self.probs = np.array(arrays["probs"], np.float64)
        self.prange = [float(p) for p in arrays["prange"]]
        self.full, self.half = [], []
        for i in range(len(self.pixels)):
            s = torch.from_numpy(arrays[f"stack{i}"].astype(np.float32) * q).to(dev)[:, None]
            self.full.append(s)
            self.half.append(F.interpolate(s, scale_factor=0.5, mode="bilinear", align_corners=False,
                                           antialias=True))
        self.dev = dev

    def _cut(self, rng, size, n):
        k = rng.choice(len(self.full), size=n, p=self.probs)
        out = torch.empty(n, 1, size, size, device=self.dev)
        for i in np.unique(k):
            idx = np.nonzero(k == i)[0]
            m = len(idx)
            native = self.pixels[i]
            lo = max(self.prange[0], native / 1.5)
            hi = max(lo, min(self.prange[1], native * 2.0))
            z = native / rng.uniform(lo, hi, m)
            H, W = self.full[i].shape[-2:]
            h, w = np.maximum(8, np.round(H * z)), np.maximum(8, np.round(W * z))
            ang = np.deg2rad(rng.uniform(-10, 10, m))
            c, sn = np.cos(ang), np.sin(ang)
            my = np.maximum(0, h - size) / h
            mx = np.maximum(0, w - size) / w
            cy = rng.uniform(-1, 1, m) * my
            cx = rng.uniform(-1, 1, m) * mx
            fl = np.where(rng.random(m) < 0.5, -1.0, 1.0)
            theta = np.stack([np.stack([fl * c * size / w, -sn * size / w, cx], 1),
                              np.stack([fl * sn * size / h, c * size / h, cy], 1)], 1)
            theta = torch.from_numpy(theta.astype(np.float32)).to(self.dev)
            grid = F.affine_grid(theta, (m, 1, size, size), align_corners=False)
            sl = torch.from_numpy(rng.integers(0, self.full[i].shape[0], m)).to(self.dev)
            small = torch.from_numpy(z <= 0.7).to(self.dev)[:, None, None, None]
            a = F.grid_sample(self.full[i][sl], grid, mode="bilinear", padding_mode="zeros", align_corners=False)
            if bool(small.any()):
                b = F.grid_sample(self.half[i][sl], grid, mode="bilinear", padding_mode="zeros", align_corners=False)
                a = torch.where(small, b, a)
            out[torch.from_numpy(idx).to(self.dev)] = a
        return out

    def batch(self, rng, size, n):
        # data.py retries a crop that is mostly background; here: cut twice as many, keep the fullest first
        x = self._cut(rng, size, 2 * n)
        full = (x > 0.1).float().mean(dim=(1, 2, 3))
        ok = full > 0.15
        order = torch.argsort((~ok).float() + torch.rand(2 * n, device=self.dev) * 0.5)
        x = x[order[:n]]
        if self.modality == "mr":
            x = x.clamp(min=0)
            g = torch.exp(torch.empty(n, 1, 1, 1, device=self.dev).uniform_(np.log(0.8), np.log(1.25)))
            x = x ** g * torch.empty(n, 1, 1, 1, device=self.dev).uniform_(0.8, 1.2)
            amp = torch.empty(n, 1, 1, 1, device=self.dev).uniform_(0.3, 1.5)
            ph = F.interpolate(torch.randn(n, 1, 4, 4, device=self.dev), size=(size, size), mode="bicubic",
                               align_corners=False) * amp
            ph = ph + torch.empty(n, 1, 1, 1, device=self.dev).uniform_(-np.pi, np.pi)
            x = torch.cat([x * torch.cos(ph), x * torch.sin(ph)], dim=1)
        else:
            x = 0.5 + (x - 0.5) * torch.empty(n, 1, 1, 1, device=self.dev).uniform_(0.95, 1.05)
        return x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--modality", choices=["mr", "ct"], required=True)
    ap.add_argument("--pool", required=True, help="tools/train/pack.py's output")
    ap.add_argument("--state", default="", help="compact state to start from (default tools/train/state/MOD.pt)")
    ap.add_argument("--out", required=True, help="folder for state_MOD.pt and MOD.jsonl")
    ap.add_argument("--seconds", type=float, required=True, help="training wall-clock time, validation excluded")
    ap.add_argument("--save-seconds", type=float, default=60)
    ap.add_argument("--val-seconds", type=float, default=90)
    ap.add_argument("--lr", type=float, default=4e-4)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--pixels", type=int, default=16 * 8 * 96 * 96)
    ap.add_argument("--sizes", default="64,96,128,160")
    ap.add_argument("--steps", type=int, default=0, help="stop after this many steps (a smoke test)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--low-t", type=float, default=0.0,
                    help="share of each batch with t drawn below --low-t-max instead of over the whole schedule")
    ap.add_argument("--low-t-max", type=int, default=250)
    a = ap.parse_args()
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    state = a.state or os.path.join(os.path.dirname(os.path.abspath(__file__)), "state", a.modality + ".pt")
    s = torch.load(state, map_location="cpu", **({"weights_only": False} if torch.__version__ >= "2" else {}))
    w = {k: v.float() for k, v in s["ema16"].items()}
    if s["modality"] != a.modality:
        sys.exit(f"{state}: a {s['modality']} model, asked for {a.modality}")
    a.base, a.nres, a.cranium = s["base"], s["nres"], s.get("cranium", False)
    ch = 2 if a.modality == "mr" else 1
    model = UNet(channels=ch, base=a.base, nres=a.nres)
    model.load_state_dict(w)
    ema = UNet(channels=ch, base=a.base, nres=a.nres)
    ema.load_state_dict(w)
    model, ema = model.to(dev).to(memory_format=torch.channels_last), ema.to(dev)
    for p in ema.parameters():
        p.requires_grad_(False)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, **({"fused": True} if dev.type == "cuda" else {}))
    nparam = sum(p.numel() for p in model.parameters())
    step0 = step = s["step"]
    elapsed0 = s["elapsed"]
    curve = s.get("curve", [])
    gpu_steps, gpu_seconds = s.get("gpu_steps", 0), s.get("gpu_seconds", 0.0)
    arrays = pack.load(a.pool)
    pool = Pool(arrays, a.modality, dev)
    names = [str(n) for n in arrays["val_names"]]
    val = {n: torch.from_numpy(arrays[f"val{i}"]) for i, n in enumerate(names)}
    abar = vp_alphas_cumprod().to(dev)
    rng = np.random.default_rng(a.seed + step)
    torch.manual_seed(a.seed + step)
    sizes = [int(x) for x in a.sizes.split(",")]
    os.makedirs(a.out, exist_ok=True)
    dname = torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu"
    log = open(os.path.join(a.out, a.modality + ".jsonl"), "a")
    print(f"{a.modality}: {nparam} parameters, from {state} at step {step}; device {dname}; "
          f"pool {sum(x.shape[0] for x in pool.full)} slices", flush=True)

    ema_params, model_params = list(ema.parameters()), list(model.parameters())

    def validate(train_s):
        t0 = time.time()
        v = D.validation_loss(ema, val, abar)
        rec = {"step": step, "minutes": round((elapsed0 + train_s) / 60, 2), "device": dname,
               "gpu_seconds": round(gpu_seconds + train_s, 1),
               "val": {k: round(x, 6) for k, x in v.items()}, "val_mean": round(float(np.mean(list(v.values()))), 6)}
        log.write(json.dumps(rec) + "\n")
        log.flush()
        print(f"validation at step {step}: mean eps-MSE {rec['val_mean']:.5f} ({time.time() - t0:.1f} s)", flush=True)
        return rec, time.time() - t0

    def save(train_s):
        # train.py's compact format, plus the GPU's share (read by the next run and the learning-curve plot)
        save_compact(os.path.join(a.out, f"state_{a.modality}.pt"), ema, step, elapsed0 + train_s, a, nparam, curve,
                     {"gpu_steps": gpu_steps + (step - step0), "gpu_seconds": gpu_seconds + train_s,
                      "gpu_device": dname, "gpu_batch_pixels": a.pixels,
                      "gpu_low_t": [a.low_t, a.low_t_max]})

    rec, _ = validate(0.0)
    if not curve or curve[-1]["step"] != step:
        curve.append(rec)
    train_s, t_last = 0.0, time.time()
    last_save = last_val = 0.0
    run_loss = None
    while True:
        now = time.time()
        train_s += now - t_last
        t_last = now
        if train_s >= a.seconds or (a.steps and step - step0 >= a.steps):
            break
        frac = train_s / a.seconds
        lr = a.lr * min(1.0, (step - step0 + 1) / a.warmup) * (1.0 if frac < 0.7 else 1.0 - 0.75 * (frac - 0.7) / 0.3)
        for g in opt.param_groups:
            g["lr"] = lr
        size = sizes[rng.integers(len(sizes))]
        n = max(2, int(round(a.pixels / size ** 2)))
        with torch.no_grad():
            x0 = pool.batch(rng, size, n).contiguous(memory_format=torch.channels_last)
            t = torch.randint(0, 1000, (n,), device=dev)
            if a.low_t > 0:
                # noise-level weighting toward what the default sampler evaluates: a CCDF start at
                # t0 = 0.2 (Chung, Sim & Ye, CVPR 2022) never asks the network about t > 200; the
                # rest of the batch keeps the whole schedule for samplers that start from noise.
                # Reweighting the noise-level distribution: Karras et al., NeurIPS 2022 (EDM, p(σ));
                # Choi et al., CVPR 2022 (perception-prioritized weighting).
                low = torch.rand(n, device=dev) < a.low_t
                t = torch.where(low, torch.randint(0, a.low_t_max, (n,), device=dev), t)
            eps = torch.randn_like(x0)
            ab = abar[t][:, None, None, None]
            xt = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            pred = model(xt, t.float())
        loss = F.mse_loss(pred.float(), eps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model_params, 1.0)
        opt.step()
        step += 1
        with torch.no_grad():
            torch._foreach_mul_(ema_params, 0.999)
            torch._foreach_add_(ema_params, model_params, alpha=0.001)
        if step % 50 == 0:
            lv = loss.item()
            run_loss = lv if run_loss is None else 0.9 * run_loss + 0.1 * lv
            print(f"step {step} ({step - step0} here) {train_s:.0f} s loss {run_loss:.4f} lr {lr:.2e} "
                  f"size {size} batch {n}", flush=True)
        if train_s - last_val >= a.val_seconds:
            rec, dt = validate(train_s)
            curve.append(rec)
            t_last += dt  # validation time is not training time
            last_val = train_s
        if train_s - last_save >= a.save_seconds:
            t0 = time.time()
            save(train_s)
            t_last += time.time() - t0
            last_save = train_s
    rec, _ = validate(train_s)
    curve.append(rec)
    save(train_s)
    print(f"done: {step - step0} steps in {train_s:.0f} s ({(step - step0) / max(train_s, 1e-9):.1f} steps/s), "
          f"step {step}", flush=True)


if __name__ == "__main__":
    main()
