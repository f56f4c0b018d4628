#!/usr/bin/python3
"""Time scikit-image's FBP on the problem of tweedie's BenchmarkFBP720.

The validation chest slice (ct1_chest_hu_256.npy) in attenuation
(mu = 0.0192/mm * (1 + HU/1000), clipped at 0), radon(circle=False) with
720 angles over [0, 180), then iradon(filter_name='ramp', circle=False),
best of --repeat runs. Compare with:

    go test -run XXX -bench FBP720 ./sinogram/

(the benchmark reports wall ns/op and cpu-ms/op; for a like-for-like
single-core figure run it with -cpu 1, as numpy's iradon runs on one core;
CPU time is the fairer measure when the machine is shared). Run from anywhere:

    /usr/bin/python3 sinogram/testdata/time_iradon.py [--data DIR] [--repeat N]
"""
import argparse
import os
import time

import numpy as np
from skimage.transform import iradon, radon


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.environ.get("SHARED_DATA", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "data")))
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    hu = np.load(a.data + "/ct/ct1_chest_hu_256.npy")[0].astype(np.float64)
    mu = np.clip(0.0192 * (1 + hu / 1000), 0, None)
    theta = np.arange(720) * 0.25
    t0 = time.perf_counter()
    s = radon(mu, theta, circle=False)
    t_radon = time.perf_counter() - t0
    best = cpu = float("inf")
    for _ in range(a.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        r = iradon(s, theta, filter_name="ramp", circle=False)
        best = min(best, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    mse = np.mean((r - mu) ** 2)
    psnr = 20 * np.log10(mu.max()) - 10 * np.log10(mse)
    print(f"radon {t_radon * 1e3:.0f} ms; iradon best of {a.repeat}: {best * 1e3:.1f} ms wall, "
          f"{cpu * 1e3:.1f} ms CPU; PSNR {psnr:.2f} dB")


if __name__ == "__main__":
    main()
