#!/usr/bin/python3
"""Write docs/results.md and the montages from tools/eval/run.sh's work folder.

    report.py WORK [--docs docs]
"""
import argparse
import glob
import json
import os

import numpy as np
from PIL import Image, ImageDraw

CLASSICAL = {"MR": ["cg-sense", "l1-wavelet", "tv", "bart_pics_-l1"], "CT": ["sirt", "admm-tv"]}
BASE = {"MR": "zero-filled", "CT": "fbp"}


def load(work):
    rows = []
    for ln in open(os.path.join(work, "results.tsv")):
        p = ln.rstrip("\n").split("\t")
        if len(p) >= 7:
            rows.append({"mod": p[0], "set": p[1], "method": p[2], "psnr": float(p[3]), "ssim": float(p[4]),
                         "sec": float(p[5]), "file": os.path.join(work, p[6])})
    return rows


def table(rows, mod, settings, header):
    methods = []
    for r in rows:
        if r["mod"] == mod and r["method"] not in methods:
            methods.append(r["method"])
    out = ["| method | " + " | ".join(header) + " |", "|---|" + "---|" * len(header)]
    for m in methods:
        cells = []
        for s in settings:
            r = [x for x in rows if x["mod"] == mod and x["set"] == s and x["method"] == m]
            cells.append(f"{r[0]['psnr']:.2f} / {r[0]['ssim']:.3f} / {r[0]['sec']:.2f} s" if r else "–")
        out.append(f"| {m.replace('_', ' ')} | " + " | ".join(cells) + " |")
    return out


def get(rows, mod, s, m):
    r = [x for x in rows if x["mod"] == mod and x["set"] == s and x["method"] == m]
    return r[0] if r else None


def to_u8(img, lo, hi):
    return (np.clip((img - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)


def montage(rows, mod, settings, ref_of, sl, lo, hi, elo, ehi, path, label):
    tiles, titles = [], []
    for s in settings:
        ref = np.load(ref_of(s))[sl]
        base = get(rows, mod, s, BASE[mod])
        cl = [get(rows, mod, s, m) for m in CLASSICAL[mod]]
        best = max([c for c in cl if c], key=lambda c: c["psnr"])
        dds = max([x for x in rows if x["mod"] == mod and x["set"] == s and x["method"].startswith("dds")],
                  key=lambda c: c["psnr"])
        imgs = [ref, np.load(base["file"])[sl], np.load(best["file"])[sl], np.load(dds["file"])[sl]]
        row = [to_u8(x, lo, hi) for x in imgs]
        row += [to_u8(np.abs(imgs[2] - ref), elo, ehi), to_u8(np.abs(imgs[3] - ref), elo, ehi)]
        tiles.append(row)
        def short(m):  # the tile is 128 px wide at MRI's size: keep the title within it
            return m.replace("_", " ").replace("samples=", "x").replace("nfe=", "n").replace("bart pics -l1", "bart -l1")
        titles.append([f"{label(s)} reference", f"{BASE[mod]} {base['psnr']:.1f} dB",
                       f"{short(best['method'])} {best['psnr']:.1f} dB", f"{short(dds['method'])} {dds['psnr']:.1f} dB",
                       f"|err| {short(best['method'])}", "|err| " + short(dds["method"])])
    h, w = tiles[0][0].shape
    pad = 14
    canvas = Image.new("L", (w * 6, (h + pad) * len(tiles)), 0)
    d = ImageDraw.Draw(canvas)
    for i, row in enumerate(tiles):
        for j, t in enumerate(row):
            canvas.paste(Image.fromarray(t), (j * w, i * (h + pad) + pad))
            d.text((j * w + 2, i * (h + pad) + 1), titles[i][j], fill=255)
    canvas.save(path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("work")
    ap.add_argument("--docs", default="docs")
    a = ap.parse_args()
    rows = load(a.work)
    mr_sets = [s for s in ["4x-acs8", "8x-acs8", "8x-acs4"] if any(r["set"] == s for r in rows)]
    ct_sets = [s for s in ["8v", "16v", "32v"] if any(r["set"] == s for r in rows)]
    if mr_sets:
        montage(rows, "MR", mr_sets, lambda s: os.path.join(a.work, f"ref-{s}.npy"), 2, 0, 1.0, 0, 0.2,
                os.path.join(a.docs, "results-mri.png"), lambda s: s)
    if ct_sets:
        montage(rows, "CT", ct_sets, lambda s: os.path.join(a.work, f"ref-{s}.npy"), 0, -1000, 400, 0, 300,
                os.path.join(a.docs, "results-ct.png"), lambda s: s.replace("v", " views"))
    train = {}
    for f in glob.glob("tools/train/runs/*/summary.json"):
        j = json.load(open(f))
        if j["modality"] not in train or j["steps"] > train[j["modality"]]["steps"]:
            train[j["modality"]] = j  # the longest run of the modality (runs/ may hold earlier copies)
    checks = []
    def best_dds(mod, s):
        c = [x for x in rows if x["mod"] == mod and x["set"] == s and x["method"].startswith("dds")]
        return max(c, key=lambda x: x["psnr"]) if c else None

    for s in mr_sets:
        d = best_dds("MR", s)
        for m in ["l1-wavelet", "bart_pics_-l1"]:
            c = get(rows, "MR", s, m)
            if d and c:
                diff = d["psnr"] - c["psnr"]
                checks.append(f"- MR {s}: {d['method'].replace('_', ' ')} {d['psnr']:.2f} dB vs {m.replace('_', ' ')} {c['psnr']:.2f} dB: "
                              f"{diff:+.2f} dB (target +1.5): {'**holds**' if diff >= 1.5 else '**does not hold**'}")
    d, c = best_dds("CT", "8v"), get(rows, "CT", "8v", "admm-tv")
    if d and c:
        diff = d["psnr"] - c["psnr"]
        checks.append(f"- CT 8 views: {d['method'].replace('_', ' ')} {d['psnr']:.2f} dB vs admm-tv {c['psnr']:.2f} dB: {diff:+.2f} dB "
                      f"(target +3): {'**holds**' if diff >= 3 else '**does not hold**'}")
    out = ["<!-- generated by tools/eval/report.py; the note below the tables is written by hand -->", ""]
    out += ["## MRI (validation: ITK T1 head, 6 coronal slices, 128², 2 mm)", "",
            "PSNR dB / SSIM / seconds per slice. 8 coils, 1 % noise, equispaced masks with 8 % ACS.", ""]
    out += table(rows, "MR", mr_sets, mr_sets)
    out += ["", "## CT (validation: NEMA CT1 chest slice, 256², 0.957 mm, out of distribution)", "",
            "PSNR dB / SSIM / seconds per slice (`tweedie eval --ct`). Parallel beam, sinograms projected on a "
            "grid twice as fine as the reconstruction grid.", ""]
    out += table(rows, "CT", ct_sets, [s.replace("v", " views") for s in ct_sets])
    out += ["", "## Done-when checks", ""] + checks
    out += ["", "## Training", ""]
    for k in ("mr", "ct"):
        if k in train:
            t = train[k]
            out.append(f"- {k.upper()}: {t['parameters'] / 1e6:.2f} M parameters, {t['steps']} steps in "
                       f"{t['minutes']:.1f} minutes on {t['device']} (torch threads: {t['threads']}), final loss (running mean) "
                       f"{t['final_loss']:.4f}")
    with open(os.path.join(a.work, "generated.md"), "w") as f:
        f.write("\n".join(out) + "\n")
    print("\n".join(out))


if __name__ == "__main__":
    main()
