#!/usr/bin/python3
"""dds with no parameters against BART's compressed sensing, wall time, interleaved (issue 17).

    tools/eval/bench_speed.py --work DIR [--rounds 3] [--cases tumour-4x,tumour-8x] [--extra "dds nfe=50"]

Per case (4 slices of 256², 8 coils; tools/eval/frontier.py simulates them), each round times,
one after the other: BART 0.8 `ecalib -m1 -r 24` + `pics -d4 -l1 -r 0.005 -i 100` per slice with
OMP_NUM_THREADS=1 (tools/eval/bart_pics.py, the fastest BART setting here), `tweedie recon
--reconstructor dds` with no parameters (its default budget), `tweedie recon --reconstructor
l1-wavelet`, and any --extra configurations. Process start, calibration and model load are
included in every time. Prints each round and the median ratio dds / BART, and scores each
output against the reference (PSNR dB / SSIM, `tweedie eval`). The machine is shared: quote the
ratios, not the seconds.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import frontier as F  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cases", default="tumour-4x,tumour-8x")
    ap.add_argument("--extra", default="", help="';'-separated extra configurations")
    a = ap.parse_args()
    env = dict(os.environ, TWEEDIE_ONNX_DEVICE=os.environ.get("TWEEDIE_ONNX_DEVICE", "cpu"), OMP_NUM_THREADS="1")
    for case in a.cases.split(","):
        d = F.prepare(a.work, case)
        n = len(F.CASES[case][2])
        runs = {"bart": ["/usr/bin/python3", os.path.join(HERE, "bart_pics.py"), "k.npy", "bart.npy", "-l1", "-r", "0.005", "-i", "100"],
                "dds": [F.T, "recon", "--reconstructor", "dds", "--log-level", "warn", "--out", "o-dds", "--export", "dds.npy", "raw.dcm"],
                "l1-wavelet": [F.T, "recon", "--reconstructor", "l1-wavelet", "--log-level", "warn", "--out", "o-l1", "--export", "l1-wavelet.npy", "raw.dcm"]}
        for i, c in enumerate(x.strip() for x in a.extra.split(";") if x.strip()):
            w = c.split()
            sets = sum((["--set", kv] for kv in w[1:]), [])
            runs[c] = [F.T, "recon", "--reconstructor", w[0], *sets, "--log-level", "warn", "--out", f"o-x{i}", "--export", f"x{i}.npy", "raw.dcm"]
        times = {k: [] for k in runs}
        for r in range(a.rounds):
            for k, cmd in runs.items():
                t0 = time.time()
                subprocess.run(cmd, cwd=d, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                times[k].append((time.time() - t0) / n)
            print(f"{case} round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s/slice" for k, v in times.items()), flush=True)
        outs = {"bart": "bart.npy", "dds": "dds.npy", "l1-wavelet": "l1-wavelet.npy"}
        outs.update({c: f"x{i}.npy" for i, c in enumerate(k for k in runs if k not in outs)})
        for k in runs:
            ratio = statistics.median([t / b for t, b in zip(times[k], times["bart"])])
            e = json.loads(subprocess.run([F.T, "eval", "--ref", "ref.npy", "--test", outs[k]], cwd=d, capture_output=True,
                                          text=True, check=True).stdout)
            print(f"{case}\t{k}\tmedian {statistics.median(times[k]):.2f} s/slice\t{ratio:.2f}x BART\t"
                  f"{e['psnr']:.2f} dB / {e['ssim']:.3f}", flush=True)


if __name__ == "__main__":
    main()
