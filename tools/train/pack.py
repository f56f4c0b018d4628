#!/usr/bin/python3
"""Pack the training pool and the validation images of one modality into one
compressed .npz, for a training machine that cannot see ../shared/data
(tools/train/train_gpu.py, a GPU machine reached through the device tool).

    /usr/bin/python3 tools/train/pack.py --modality ct --out .gpu/pool_ct.npz.xz

The file is an uncompressed .npz inside an xz stream (lzma compresses the
integer slices about 30 % smaller than the .npz's own zlib).

The slices are those tools/train/data.py keeps (mostly-air and near-empty
slices dropped, CT window-scaled, MR scaled by its 99th percentile), stored as
integers to fit the device tool's 64 MiB working tree: CT in steps of 1/1024
of the window (about 2 HU), MR in steps of 1/512 of the slice's 99th
percentile. The quantisation noise (step/sqrt(12): 0.0003 and 0.0006) is far
below the smallest noise level the prior is trained at (sqrt(1 - abar[0]) =
0.01).
"""
import argparse
import io
import lzma
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data as D  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--modality", choices=["ct", "mr"], required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--data", default=D.DATA)
    a = ap.parse_args()
    ts = D.TrainSet(a.modality, a.data)
    q = 1024.0 if a.modality == "ct" else 512.0
    dt = np.int16 if a.modality == "ct" else np.uint16
    lim = np.iinfo(dt)
    arrays = {f"stack{i}": np.clip(np.round(s.numpy() * q), lim.min, lim.max).astype(dt) for i, s in enumerate(ts.stacks)}
    arrays["quantum"] = np.array(1.0 / q)
    arrays["pixels"] = np.array(ts.pixels, np.float64)
    arrays["probs"] = np.array(ts.probs, np.float64)
    arrays["prange"] = np.array(ts.prange, np.float64)
    val = D.validation(a.modality, a.data)
    arrays["val_names"] = np.array(list(val.keys()))
    for i, v in enumerate(val.values()):
        arrays[f"val{i}"] = v.numpy()  # float32: the learning curve must match the CPU run's
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    with open(a.out, "wb") as f:
        f.write(lzma.compress(buf.getvalue(), preset=6))
    print(f"{a.out}: {os.path.getsize(a.out) / 2**20:.1f} MiB, {sum(s.shape[0] for s in ts.stacks)} slices")


def load(path):
    """The arrays pack.py wrote: {name: ndarray}."""
    with open(path, "rb") as f:
        z = np.load(io.BytesIO(lzma.decompress(f.read())))
        return {k: z[k] for k in z.files}


if __name__ == "__main__":
    main()
