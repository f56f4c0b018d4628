#!/usr/bin/python3
"""Quality–time frontier of the diffusion samplers on the MRI and CT validation sets (issue 17).

    tools/eval/frontier.py --work DIR [--cases itk-4x,itk-8x,tumour-4x,tumour-8x] [--configs "dds nfe=50;dds nfe=50 t0=0.3 init=l1-wavelet"]

Each case is simulated once (`tweedie simulate`, the same settings as tools/eval/run.sh) and
wrapped as raw-data DICOM; each configuration runs `tweedie recon` on the whole series (process
start, ESPIRiT, initial estimate and model load included) and is scored by `tweedie eval`
(PSNR over the volume with L = the reference's maximum, SSIM per slice). Rows are appended to
DIR/frontier.tsv (case, config, PSNR, SSIM, seconds per slice, network evaluations per slice);
configurations already there are skipped, so a run can be resumed or extended.

Cases (validation files of ../shared/data, never trained on):
  itk-4x, itk-8x        itk_t1_coronal_128.npy slices 18,22,26,30,34,38; 8 coils, 1 % noise, equispaced, 8 % ACS
  tumour-4x, tumour-8x  pyradiomics_brain_tumour_256.npy slices 10,16 (subject 1), 35,41 (subject 2); same
  body-8v, body-16v, body-32v   covid_nysbu_axial_hu_256.npy slices 0,4,8,12,16 (5 patients), 1.6 mm; parallel beam
  chest-8v, chest-16v, chest-32v   ct1_chest_hu_256.npy (NEMA CT1)
  tune-lungdx-8v, tune-abdomen-8v (and -16v, -32v)  TRAINING slices (Lung-PET-CT-Dx A0002 5,15,25; TotalSegmentator
                        abdomen 4,10,16): for choosing CT sampler settings, never for results
  itkcrop-4x            the ITK slices cut to 116×99 (anatomy at the edges; for the padding modes), 12 % ACS
Baselines: any reconstructor name (l1-wavelet, admm-tv, ...) and "bart" (ecalib + pics -l1, tools/eval/bart_pics.py).
"""
import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
DATA = os.path.abspath(os.environ.get("SHARED_DATA", os.path.join(REPO, "..", "shared", "data")))
T = os.environ.get("TWEEDIE_BIN") or os.path.join(REPO, "bin", "tweedie")  # TWEEDIE_BIN: another build

CASES = {
    "itk-4x": ("mr", "mri/itk_t1_coronal_128.npy", [18, 22, 26, 30, 34, 38], 4, "coronal", 2),
    "itk-8x": ("mr", "mri/itk_t1_coronal_128.npy", [18, 22, 26, 30, 34, 38], 8, "coronal", 2),
    "tumour-4x": ("mr", "mri/pyradiomics_brain_tumour_256.npy", [10, 16, 35, 41], 4, "axial", 0.78),
    "tumour-8x": ("mr", "mri/pyradiomics_brain_tumour_256.npy", [10, 16, 35, 41], 8, "axial", 0.78),
    "body-8v": ("ct", "ct/covid_nysbu_axial_hu_256.npy", [0, 4, 8, 12, 16], 8, None, 1.6),
    "body-16v": ("ct", "ct/covid_nysbu_axial_hu_256.npy", [0, 4, 8, 12, 16], 16, None, 1.6),
    "chest-8v": ("ct", "ct/ct1_chest_hu_256.npy", [0], 8, None, 0.957),
    "chest-16v": ("ct", "ct/ct1_chest_hu_256.npy", [0], 16, None, 0.957),
    "body-32v": ("ct", "ct/covid_nysbu_axial_hu_256.npy", [0, 4, 8, 12, 16], 32, None, 1.6),
    "chest-32v": ("ct", "ct/ct1_chest_hu_256.npy", [0], 32, None, 0.957),
    # TRAINING slices, for choosing sampler settings without touching validation data
    "tune-lungdx-8v": ("ct", "ct/lungdx_a0002_chest_hu_256.npy", [5, 15, 25], 8, None, 1.293),
    "tune-abdomen-8v": ("ct", "ct/totalseg_abdomen_hu_256.npy", [4, 10, 16], 8, None, 1.953),
    "tune-lungdx-16v": ("ct", "ct/lungdx_a0002_chest_hu_256.npy", [5, 15, 25], 16, None, 1.293),
    "tune-abdomen-16v": ("ct", "ct/totalseg_abdomen_hu_256.npy", [4, 10, 16], 16, None, 1.953),
    "tune-lungdx-32v": ("ct", "ct/lungdx_a0002_chest_hu_256.npy", [5, 15, 25], 32, None, 1.293),
    "tune-abdomen-32v": ("ct", "ct/totalseg_abdomen_hu_256.npy", [4, 10, 16], 32, None, 1.953),
    # The ITK head cut to 116×99 so that it fills the field of view: the
    # padding to a size the model accepts (128×112) lies against anatomy.
    "itkcrop-4x": ("mr", "mri/itk_t1_coronal_128.npy", [18, 22, 26, 30, 34, 38], 4, "coronal", 2),
}
CROP = {"itkcrop-4x": (slice(6, 122), slice(15, 114))}
# 8 % of 99 columns leaves 8 calibration lines, too few for ESPIRiT on a head
# that fills the field of view (BART's ecalib fails there too): 12 %.
ACS = {"itkcrop-4x": "0.12"}


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"{' '.join(map(shlex.quote, cmd))}: exit {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r.stdout


def prepare(work, case):
    kind, f, idx, acc, orient, px = CASES[case]
    d = os.path.join(work, case)
    os.makedirs(d, exist_ok=True)
    dcm = os.path.join(d, "raw.dcm")
    if os.path.exists(dcm):
        return d
    v = np.load(os.path.join(DATA, f))[idx].astype(np.float32)
    if case in CROP:
        v = np.ascontiguousarray(v[:, CROP[case][0], CROP[case][1]])
    np.save(os.path.join(d, "images.npy"), v)
    if kind == "mr":
        run([T, "simulate", "mr", "--images", "images.npy", "--accel", str(acc), "--acs", ACS.get(case, "0.08"), "--coils", "8",
             "--noise", "0.01", "--kspace", "k.npy", "--mask-out", "m.npy", "--ref", "ref.npy"], cwd=d)
        run([T, "wrap", "mr", "--kspace", "k.npy", "--mask", "m.npy", "--orientation", orient, "--pixel-mm", str(px),
             "--slice-mm", "3", "--out", "raw.dcm"], cwd=d)
    else:
        # the line integrals must be taken at the pixel size the series declares (wrap's --pixel-mm):
        # simulating at one size and reconstructing at another scales every attenuation value
        run([T, "simulate", "ct", "--images", "images.npy", "--views", str(acc), "--pixel-mm", str(px),
             "--sinogram", "s.npy", "--ref", "ref.npy"], cwd=d)
        run([T, "wrap", "ct", "--sinogram", "s.npy", "--angles", f"linspace:0:180:{acc}", "--geometry", "parallel",
             "--detector-mm", str(px), "--image-size", "256", "--pixel-mm", str(px), "--out", "raw.dcm"], cwd=d)
    return d


def evaluate(work, case, config, res):
    kind, _, idx, *_ = CASES[case]
    d = prepare(work, case)
    label = config.replace(" ", "_")
    out = os.path.join(d, label + ".npy")
    words = config.split()
    t0 = time.time()
    nfe = 0
    if words[0] == "bart":
        run(["/usr/bin/python3", os.path.join(HERE, "bart_pics.py"), "k.npy", label + ".npy", "-l1", "-r", "0.005", "-i", "100"], cwd=d)
    else:
        sets = []
        for kv in words[1:]:
            sets += ["--set", kv]
        if words[0] in ("dds", "score-mri", "dps", "mbir") and not any(w.startswith("seed=") for w in words):
            sets += ["--set", "seed=1"]
        log = run([T, "recon", "--reconstructor", words[0], *sets, "--log-level", "warn",
                   "--out", os.path.join(d, "out-" + label), "--export", out, "raw.dcm"], cwd=d,
                  env={**os.environ, "TWEEDIE_ONNX_DEVICE": os.environ.get("TWEEDIE_ONNX_DEVICE", "cpu")})
        m = re.search(r"nfe=(\d+)", log)  # the description on the summary line
        nfe = int(m.group(1)) if m else 0
    secs = (time.time() - t0) / len(idx)
    ev = [T, "eval", "--ref", os.path.join(d, "ref.npy"), "--test", out] + (["--ct"] if kind == "ct" else [])
    r = json.loads(run(ev))
    row = f"{case}\t{config}\t{r['psnr']:.3f}\t{r['ssim']:.4f}\t{secs:.3f}\t{nfe}"
    with open(res, "a") as fh:
        fh.write(row + "\n")
    print(row, flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--cases", default="itk-4x,itk-8x,tumour-4x,tumour-8x")
    ap.add_argument("--configs", required=True, help="';'-separated: reconstructor then key=value parameters")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    res = os.path.join(a.work, "frontier.tsv")
    have = set()
    if os.path.exists(res):
        for ln in open(res):
            p = ln.rstrip("\n").split("\t")
            have.add((p[0], p[1]))
    for case in a.cases.split(","):
        for config in [c.strip() for c in a.configs.split(";") if c.strip()]:
            if (case, config) in have:
                continue
            if CASES[case][0] == "ct" and words_mr_only(config) or CASES[case][0] == "mr" and words_ct_only(config):
                continue
            evaluate(a.work, case, config, res)


def words_mr_only(c):
    return c.split()[0] in ("l1-wavelet", "cg-sense", "tv", "zero-filled", "bart") or "init=l1-wavelet" in c or "init=cg" in c


def words_ct_only(c):
    return c.split()[0] in ("fbp", "sirt", "admm-tv") or "init=admm-tv" in c or "init=fbp" in c


if __name__ == "__main__":
    main()
