#!/usr/bin/python3
"""Train a small VP / eps-prediction UNet score model by denoising score matching.

    /usr/bin/python3 tools/train/train.py --modality ct --minutes 600 --run tools/train/runs/ct
    /usr/bin/python3 tools/train/train.py --modality mr --minutes 600 --run tools/train/runs/mr

Data and augmentation: tools/train/data.py (training files of ../shared/data
only; the validation files give a held-out denoising loss every
--val-minutes, written to RUN/val.jsonl: the learning curve).

Two kinds of state:
- RUN/ckpt.pt (gitignored): model, EMA, optimiser, step, elapsed time; written
  every --ckpt-minutes. Rerunning the same command resumes from it.
- --state FILE (committed; default tools/train/state/MODALITY.pt): the compact
  state a fresh clone resumes from: fp16 EMA weights, the step count, the
  elapsed minutes and the learning curve (about 5.4 MB). Without RUN/ckpt.pt the
  run starts from it: model and EMA both take the EMA weights and Adam starts
  afresh (a warm restart; docs/results.md measures what it costs).
--minutes is the total budget summed over every resume; the learning rate is
constant (EMA does the averaging) and decays over the last 30 % of the budget.
A GPU is used when torch sees one; tools/train/gpu.sh runs train_gpu.py for both
modalities on a GPU machine from the committed states.
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

HERE = os.path.dirname(os.path.abspath(__file__))


# What a GPU run (train_gpu.py) recorded in the state; kept across CPU resumes so
# the learning curve can tell CPU minutes from GPU minutes.
GPU_KEYS = ("gpu_steps", "gpu_seconds", "gpu_device", "gpu_batch_pixels")


def save_compact(path, ema, step, elapsed, a, nparam, curve, extra=None):
    tmp = path + ".tmp"
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    torch.save({"ema16": {k: v.half().cpu() for k, v in ema.state_dict().items()}, "step": step, "elapsed": elapsed,
                "modality": a.modality, "base": a.base, "nres": a.nres, "parameters": nparam,
                "ct_window": [D.CT_LOW, D.CT_HIGH], "cranium": a.cranium, "curve": curve,
                "train_files": train_files(a), **(extra or {})}, tmp)
    os.replace(tmp, path)


def train_files(a):
    spec = D.CT_TRAIN if a.modality == "ct" else D.MR_TRAIN
    return [f for f, _, _ in spec] + ([D.CT_CRANIUM[0]] if a.modality == "ct" and a.cranium else [])


def load_compact(path, dev):
    s = torch.load(path, map_location=dev)
    return s, {k: v.float() for k, v in s["ema16"].items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--modality", choices=["mr", "ct"], required=True)
    ap.add_argument("--run", required=True, help="run folder (full checkpoints; gitignored)")
    ap.add_argument("--state", default="", help="compact committed state (default tools/train/state/MODALITY.pt)")
    ap.add_argument("--no-state", action="store_true", help="neither read nor write the compact state")
    ap.add_argument("--minutes", type=float, default=600, help="total training budget, summed over resumes")
    ap.add_argument("--stop-after", type=float, default=0, help="stop after this many minutes of this invocation")
    ap.add_argument("--steps", type=int, default=0, help="stop after this many steps of this invocation (tests)")
    ap.add_argument("--deadline", default="", help="UTC HH:MM: stop then at the latest")
    ap.add_argument("--ckpt-minutes", type=float, default=3)
    ap.add_argument("--val-minutes", type=float, default=15)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--lr", type=float, default=4e-4)
    ap.add_argument("--pixels", type=int, default=8 * 96 * 96, help="pixels per batch")
    ap.add_argument("--sizes", default="64,96,128,160")
    ap.add_argument("--base", type=int, default=32)
    ap.add_argument("--nres", type=int, default=1)
    ap.add_argument("--cranium", action="store_true", help="CT: add the GPL-2 Cranium head (not for shipped weights)")
    ap.add_argument("--data", default=D.DATA)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    os.makedirs(a.run, exist_ok=True)
    state = "" if a.no_state else (a.state or os.path.join(HERE, "state", a.modality + ".pt"))
    ch = 2 if a.modality == "mr" else 1
    model = UNet(channels=ch, base=a.base, nres=a.nres).to(dev)
    ema = UNet(channels=ch, base=a.base, nres=a.nres).to(dev)
    ema.load_state_dict(model.state_dict())
    for p in ema.parameters():
        p.requires_grad_(False)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    nparam = sum(p.numel() for p in model.parameters())
    step, elapsed, losses, curve, extra = 0, 0.0, [], [], {}
    ck = os.path.join(a.run, "ckpt.pt")
    if os.path.exists(ck):
        s = torch.load(ck, map_location=dev)
        model.load_state_dict(s["model"])
        ema.load_state_dict(s["ema"])
        opt.load_state_dict(s["opt"])
        step, elapsed, losses, curve = s["step"], s["elapsed"], s.get("losses", []), s.get("curve", [])
        extra = {k: s[k] for k in GPU_KEYS if k in s}
        print(f"resumed {ck}: step {step}, {elapsed / 60:.1f} min", flush=True)
    elif state and os.path.exists(state):
        s, w = load_compact(state, dev)
        if (s["modality"], s["base"], s["nres"]) != (a.modality, a.base, a.nres):
            sys.exit(f"{state}: a {s['modality']} model of base {s['base']}, nres {s['nres']}; asked for "
                     f"{a.modality}, base {a.base}, nres {a.nres}")
        model.load_state_dict(w)
        ema.load_state_dict(w)
        step, elapsed, curve = s["step"], s["elapsed"], s.get("curve", [])
        extra = {k: s[k] for k in GPU_KEYS if k in s}
        print(f"warm restart from {state}: step {step}, {elapsed / 60:.1f} min (fresh optimiser)", flush=True)
    rng = np.random.default_rng(a.seed + step)
    torch.manual_seed(a.seed + step)
    train = D.TrainSet(a.modality, a.data, cranium=a.cranium, log=lambda m: print(m, flush=True))
    val = D.validation(a.modality, a.data)
    sizes = [int(s) for s in a.sizes.split(",")]
    abar = vp_alphas_cumprod().to(dev)
    print(f"{a.modality}: {nparam} parameters, device {dev}, threads {a.threads}", flush=True)
    deadline = None
    if a.deadline:
        hh, mm = map(int, a.deadline.split(":"))
        now = time.gmtime()
        deadline = time.time() + ((hh * 60 + mm) - (now.tm_hour * 60 + now.tm_min)) * 60 - now.tm_sec
    if a.stop_after:
        t_stop = time.time() + a.stop_after * 60
        deadline = t_stop if deadline is None else min(deadline, t_stop)

    def save():
        tmp = ck + ".tmp"
        torch.save({"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(), "step": step,
                    "elapsed": elapsed, "losses": losses, "curve": curve, "args": vars(a), "parameters": nparam,
                    "modality": a.modality, "base": a.base, "nres": a.nres, "ct_window": [D.CT_LOW, D.CT_HIGH],
                    "cranium": a.cranium, "train_files": train_files(a), **extra}, tmp)
        os.replace(tmp, ck)
        if state:
            save_compact(state, ema, step, elapsed, a, nparam, curve, extra)

    def validate():
        t0 = time.time()
        v = D.validation_loss(ema, val, abar)
        rec = {"step": step, "minutes": round(elapsed / 60, 2), "loss": round(run_loss or 0, 5),
               "val": {k: round(x, 6) for k, x in v.items()}, "val_mean": round(float(np.mean(list(v.values()))), 6)}
        curve.append(rec)
        with open(os.path.join(a.run, "val.jsonl"), "a") as f:
            f.write(json.dumps(rec) + "\n")
        print(f"validation at step {step} ({elapsed / 60:.1f} min): mean eps-MSE {rec['val_mean']:.5f} "
              f"({time.time() - t0:.0f} s)", flush=True)
        return time.time() - t0

    last_ck = last_val = time.time()
    t_start = time.time() - elapsed
    run_loss = None
    n_this = 0
    if not curve:
        t_start += validate()  # validation time does not count as training
    while True:
        elapsed = time.time() - t_start
        if elapsed >= a.minutes * 60 or (deadline and time.time() >= deadline) or (a.steps and n_this >= a.steps):
            break
        frac = elapsed / (a.minutes * 60)
        lr = a.lr * (1.0 if frac < 0.7 else 1.0 - 0.75 * (frac - 0.7) / 0.3)
        for g in opt.param_groups:
            g["lr"] = lr
        size = sizes[rng.integers(len(sizes))]
        n = max(2, int(round(a.pixels / size ** 2)))
        x0 = train.batch(rng, size, n).to(dev)
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
        n_this += 1
        d = min(0.999, (1 + step) / (10 + step))
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.mul_(d).add_(pm, alpha=1 - d)
        run_loss = loss.item() if run_loss is None else 0.98 * run_loss + 0.02 * loss.item()
        if step % 25 == 0:
            losses.append((step, time.time() - t_start, run_loss))
            print(f"step {step} t {(time.time() - t_start) / 60:.1f} min loss {run_loss:.4f} lr {lr:.2e} size {size} batch {n}", flush=True)
        if time.time() - last_val > a.val_minutes * 60:
            elapsed = time.time() - t_start
            t_start += validate()
            last_val = time.time()
        if time.time() - last_ck > a.ckpt_minutes * 60:
            elapsed = time.time() - t_start
            save()
            last_ck = time.time()
    elapsed = time.time() - t_start
    if n_this:
        validate() if not a.steps else None
    save()
    print(f"done: step {step}, {elapsed / 60:.1f} min, loss {run_loss}", flush=True)
    with open(os.path.join(a.run, "summary.json"), "w") as f:
        json.dump({"modality": a.modality, "steps": step, "minutes": elapsed / 60, "final_loss": run_loss,
                   "parameters": nparam, "device": str(dev), "threads": a.threads}, f, indent=1)


if __name__ == "__main__":
    main()
