#!/usr/bin/python3
"""The priors' learning curves from the committed compact states.

    /usr/bin/python3 tools/train/curve.py --out docs/learning-curve.png

Reads tools/train/state/{ct,mr}.pt (their "curve": the held-out denoising
loss of tools/train/data.py's validation_loss, mean eps-MSE over t = 30, 100,
250, 500 on the validation files only) and plots it against the training
images seen, in megapixels: a CPU step of tools/train/train.py sees --pixels
(8 x 96 x 96) pixels, a GPU step of train_gpu.py the state's
gpu_batch_pixels. The top axis converts them to CPU-hours at the rate
measured on the 2-core development machine when it was quiet (about 50 steps
per minute, docs/results.md), so "how many more CPU-hours" can be read off.
Prints the table the plot is drawn from.
"""
import argparse
import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
CPU_PIXELS = 8 * 96 * 96
CPU_STEPS_PER_HOUR = 50 * 60


def points(state):
    s = torch.load(state, map_location="cpu")
    gpu_px = s.get("gpu_batch_pixels", 0)
    rows = [r for r in s.get("curve", []) if "val_mean" in r and r["step"] > 0]
    start = next((r["step"] for r in rows if "gpu_seconds" in r), None)  # the step the GPU run started from
    out = []
    for r in rows:
        if start is None or r["step"] <= start:
            mpx = r["step"] * CPU_PIXELS / 1e6
            where = "cpu"
        else:
            mpx = (start * CPU_PIXELS + (r["step"] - start) * gpu_px) / 1e6
            where = "gpu"
        out.append((r["step"], mpx, r["val_mean"], where))
    return s, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "..", "..", "docs", "learning-curve.png"))
    a = ap.parse_args()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.2))
    per_hour = CPU_STEPS_PER_HOUR * CPU_PIXELS / 1e6
    for mod, colour in (("ct", "tab:blue"), ("mr", "tab:red")):
        s, pts = points(os.path.join(HERE, "state", mod + ".pt"))
        print(f"{mod}: step, training Mpx, CPU-hour equivalent, held-out eps-MSE, where")
        for step, mpx, v, where in pts:
            print(f"  {step:6d} {mpx:9.1f} {mpx / per_hour:7.1f} {v:.5f} {where}")
        for where, marker in (("cpu", "o"), ("gpu", "s")):
            p = [(m, v) for _, m, v, w in pts if w == where]
            cpu = [(m, v) for _, m, v, w in pts if w == "cpu"]
            if where == "gpu" and p and cpu:
                p = cpu[-1:] + p  # the GPU run starts where the CPU run stopped
            if p:
                ax.plot([m for m, _ in p], [v for _, v in p], marker=marker, color=colour, ls="-",
                        label=f"{mod.upper()} ({'CPU, train.py' if where == 'cpu' else s.get('gpu_device', 'GPU') + ', train_gpu.py'})")
    ax.set_xscale("log")
    ax.set_xlabel("training pixels seen (millions)")
    ax.set_ylabel("held-out eps-MSE (mean over t = 30, 100, 250, 500)")
    top = ax.secondary_xaxis("top", functions=(lambda x: x / per_hour, lambda h: h * per_hour))
    top.set_xlabel("CPU-hours on the 2-core machine at 50 steps/min (equivalent)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
