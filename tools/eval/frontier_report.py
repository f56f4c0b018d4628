#!/usr/bin/python3
"""Plot and tabulate DIR/frontier.tsv (tools/eval/frontier.py): PSNR against network evaluations
per slice, one curve per sampler family, baselines as horizontal lines; the markdown table goes
to stdout.

    tools/eval/frontier_report.py DIR/frontier.tsv docs/frontier.png

Evaluations per slice = steps run × samples (the cost that scales with the hardware; the time
of one evaluation is in docs/benchmarks.md). The seconds column is the wall time of the whole
`tweedie recon` command per slice as measured, on a shared machine: indicative only.
"""
import re
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def family(cfg):
    w = dict(kv.split("=", 1) for kv in cfg.split()[1:] if "=" in kv)
    if cfg.split()[0] != "dds":
        return None
    if "t0" not in w:
        return "dds from noise, 1 sample"
    return f"dds CCDF t0={w['t0']}, η={w.get('eta', '0.85')}, " + ("antithetic pairs" if w.get("antithetic") == "true" else "samples")


def evals(cfg, nfe):
    m = re.search(r"samples=(\d+)", cfg)
    return int(nfe) * (int(m.group(1)) if m else 1)


def main():
    rows = [ln.rstrip("\n").split("\t") for ln in open(sys.argv[1]) if ln.strip()]
    cases = sorted({r[0] for r in rows if not r[0].startswith("itkcrop")}, key=lambda c: (c.split("-")[0], c))
    print("| case | configuration | evaluations / slice | PSNR dB | SSIM | s / slice (shared machine) |")
    print("|---|---|---|---|---|---|")
    for c, cfg, psnr, ssim, secs, nfe in sorted(rows, key=lambda r: (r[0], evals(r[1], r[5]), r[1])):
        print(f"| {c} | {cfg} | {evals(cfg, nfe)} | {float(psnr):.2f} | {float(ssim):.3f} | {float(secs):.1f} |")
    ncol = (len(cases) + 1) // 2 if len(cases) > 3 else len(cases)
    nrow = (len(cases) + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(5.5 * ncol, 4.5 * nrow), squeeze=False)
    for ax in axes.flat[len(cases):]:
        ax.axis("off")
    for ax, case in zip(axes.flat, cases):
        fam = defaultdict(list)
        for c, cfg, psnr, ssim, secs, nfe in [r for r in rows if r[0] == case]:
            ev = evals(cfg, nfe)
            f = family(cfg)
            if f is None:
                ax.axhline(float(psnr), ls="--", lw=1, color="k" if cfg.startswith("l1") else "gray")
                ax.text(0.01, float(psnr), cfg.split()[0], va="bottom", fontsize=7, transform=ax.get_yaxis_transform())
            else:
                fam[f].append((ev, float(psnr)))
        for f, pts in sorted(fam.items()):
            pts.sort()
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", ms=3, label=f)
        ax.set_xscale("log")
        ax.set_title(case)
        ax.set_xlabel("network evaluations per slice")
        ax.set_ylabel("PSNR dB")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=90)


if __name__ == "__main__":
    main()
