#!/usr/bin/python3
"""Montages of tools/eval/frontier.py's outputs: per row one case, reference,
then each configuration with its error map underneath.

    tools/eval/montage.py --out docs/results-v2-ct.png \
        --row "WORK1:body-8v:2" --row "WORK2:chest-8v:0" \
        --configs "admm-tv;dds nfe=100 t0=0.2 samples=2 eta=0.85 init=admm-tv antithetic=true" \
        --titles "ADMM-TV;dds, 20 steps" --ct

A row is WORK:CASE:SLICE (frontier.py's work folder, case and slice index
in the case's volume); a configuration's volume is WORK/CASE/<config with
spaces as _>.npy, the reference WORK/CASE/ref.npy; a configuration missing
from a row's folder is looked up in the other rows' folders of the same case
and in the --search folders.
CT is shown in the window [-1000, 600] HU and its error maps at 0..300 HU;
MR magnitude at 0..the reference's 99.5th percentile, its errors at 0..20 %
of that. Each panel's title carries the slice's PSNR (tweedie eval's
definition per slice: L = the reference's maximum, CT as HU + 1024 clipped at
0, as `tweedie eval --ct`).
"""
import argparse
import os

import numpy as np


def prep(v, ct):
    """As `tweedie eval` compares: CT as HU + 1024 clipped at 0 (--ct), MR magnitude."""
    return np.maximum(v.astype(np.float64) + 1024, 0) if ct else np.abs(v).astype(np.float64)


def load(work, case, config, others):
    name = config.replace(" ", "_") + ".npy"
    for w in [work] + others:
        p = os.path.join(w, case, name)
        if os.path.exists(p):
            return np.load(p)
    raise SystemExit(f"{name}: not in {work}/{case} or the other rows' folders")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--row", action="append", required=True, help="WORK:CASE:SLICE")
    ap.add_argument("--configs", required=True, help="';'-separated, as frontier.py's --configs")
    ap.add_argument("--titles", help="';'-separated short titles for the configurations")
    ap.add_argument("--search", action="append", default=[], help="more work folders to look in")
    ap.add_argument("--ct", action="store_true")
    a = ap.parse_args()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    configs = [c.strip() for c in a.configs.split(";") if c.strip()]
    titles = [t.strip() for t in a.titles.split(";")] if a.titles else configs
    rows = [r.rsplit(":", 2) for r in a.row]
    works = [w for w, _, _ in rows]
    n = len(configs) + 1
    fig, axes = plt.subplots(2 * len(rows), n, figsize=(2.3 * n, 4.6 * len(rows)), squeeze=False)
    for r, (work, case, k) in enumerate(rows):
        k = int(k)
        ref = prep(np.load(os.path.join(work, case, "ref.npy"))[k], a.ct)
        if a.ct:
            lo, hi, emax = 24.0, 1624.0, 300.0  # [-1000, 600] HU
        else:
            lo, hi = 0.0, float(np.percentile(ref, 99.5))
            emax = 0.2 * hi
        L = float(ref.max())
        ax = axes[2 * r][0]
        ax.imshow(ref, cmap="gray", vmin=lo, vmax=hi)
        ax.set_title(f"{case} #{k}\nreference", fontsize=8)
        axes[2 * r + 1][0].axis("off")
        for j, (c, title) in enumerate(zip(configs, titles), start=1):
            x = prep(load(work, case, c, [w for w in works + a.search if w != work])[k], a.ct)
            mse = float(np.mean((x - ref) ** 2))
            psnr = 10 * np.log10(L * L / mse) if mse > 0 else float("inf")
            axes[2 * r][j].imshow(x, cmap="gray", vmin=lo, vmax=hi)
            axes[2 * r][j].set_title(f"{title}\n{psnr:.2f} dB", fontsize=8)
            axes[2 * r + 1][j].imshow(np.abs(x - ref), cmap="gray", vmin=0, vmax=emax)
            axes[2 * r + 1][j].set_title("|error|", fontsize=7)
        for ax in list(axes[2 * r]) + list(axes[2 * r + 1]):
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(a.out, dpi=90)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
