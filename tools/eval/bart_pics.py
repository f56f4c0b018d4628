#!/usr/bin/python3
"""Reconstruct simulated multi-coil k-space with BART (ecalib + pics), slice by slice.

    bart_pics.py K.npy OUT.npy [pics options...]   (default: -l1 -r 0.005 -i 100)

K.npy is complex64 (slices, coils, rows, cols), as `tweedie simulate mr` writes
it. Like reconstruct/bart_test.go: the k-space is passed in tweedie's memory
order (BART dims [cols, rows, 1, coils], the transposed but equivalent
problem), `ecalib -m1 -r 24` (the calibration tweedie uses when the ACS is at
least 6 lines wide), `pics -d4 ...`, and the result is multiplied back by
pics's "Inverse scaling of the data". Writes the magnitude volume (float32).
"""
import os
import subprocess
import sys
import tempfile

import numpy as np


def write_cfl(base, arr_c_order, dims):
    with open(base + ".hdr", "w") as f:
        f.write("# Dimensions\n" + " ".join(str(d) for d in dims) + "\n")
    np.ascontiguousarray(arr_c_order, dtype=np.complex64).tofile(base + ".cfl")


def read_cfl(base):
    dims = [int(d) for d in open(base + ".hdr").read().split("\n")[1].split()]
    return np.fromfile(base + ".cfl", dtype=np.complex64), dims


def main():
    kin, out = sys.argv[1], sys.argv[2]
    pics = sys.argv[3:] or ["-l1", "-r", "0.005", "-i", "100"]
    k = np.load(kin)
    S, C, R, N = k.shape
    res = np.zeros((S, R, N), np.float32)
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "2")  # the benchmark sets 1 (BART's fastest here)
    with tempfile.TemporaryDirectory() as d:
        for s in range(S):
            base = os.path.join(d, f"k{s}")
            write_cfl(base, k[s], [N, R, 1, C])
            subprocess.run(["bart", "ecalib", "-m1", "-r", "24", base, base + "s"], check=True, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            p = subprocess.run(["bart", "pics", "-d4"] + pics + [base, base + "s", base + "x"], check=True, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            scale = 1.0
            if "Inverse scaling of the data: " in p.stdout:
                scale = float(p.stdout.split("Inverse scaling of the data: ")[1].split()[0])
            x, _ = read_cfl(base + "x")
            res[s] = (np.abs(x) * scale).reshape(R, N)
    np.save(out, res)


if __name__ == "__main__":
    main()
