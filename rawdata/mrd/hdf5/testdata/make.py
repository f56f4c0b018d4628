#!/usr/bin/python3
"""Writes the HDF5 fixtures of package hdf5's tests with h5py (Debian 12:
python3-h5py 3.7.0, HDF5 1.10.8). Run from this folder:

    /usr/bin/python3 make.py

v0.h5      libhdf5's default format (superblock 0, version 1 object headers,
           symbol-table groups): chunked float32 with shuffle, deflate and
           Fletcher-32, a partly written chunked int32, big-endian int16,
           compact int32, fixed and variable-length strings, 40 groups
           (a group B-tree of more than one level).
latest.h5  libver="latest" (superblock 3, version 2 object headers, link
           messages, layout version 4): contiguous, compact, a single
           deflated chunk, variable-length strings; a fixed-array chunk
           index and a group of 20 links (dense storage), both refused.
mrd_h5py.h5  ../../testdata/shepp8.h5 rewritten by h5py as python-ismrmrd
           lays it out: one chunk of many acquisitions, deflated and
           shuffled, so the reader must give the same acquisitions from a
           different file layout.
"""
import h5py
import numpy as np

with h5py.File("v0.h5", "w", libver="earliest") as f:
    g = f.create_group("g")
    a = np.arange(70, dtype="<f4").reshape(10, 7) / 4
    g.create_dataset("deflate", data=a, chunks=(4, 5), compression="gzip", shuffle=True, fletcher32=True)
    p = g.create_dataset("partial", shape=(7, 5), dtype="<i4", chunks=(3, 3), fillvalue=0)
    p[0:3, 0:3] = np.arange(9).reshape(3, 3) + 1
    p[6, 4] = 99
    g.create_dataset("bigendian", data=(np.arange(12) - 6).reshape(3, 4), dtype=">i2")
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_layout(h5py.h5d.COMPACT)
    space = h5py.h5s.create_simple((4,))
    d = h5py.h5d.create(g.id, b"compact", h5py.h5t.STD_I32LE, space, dcpl=dcpl)
    d.write(h5py.h5s.ALL, h5py.h5s.ALL, np.array([7, -8, 9, -10], dtype="<i4"))
    g.create_dataset("fixedstr", data=np.array([b"alpha", b"beta", b"gamma"], dtype="S8"))
    g.create_dataset("vlstr", data=["variable", "length strings"], dtype=h5py.string_dtype())
    m = f.create_group("many")
    for i in range(40):
        m.create_group("m%02d" % i)

with h5py.File("latest.h5", "w", libver="latest") as f:
    f.create_dataset("contig", data=np.arange(6, dtype="<f8").reshape(2, 3))
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_layout(h5py.h5d.COMPACT)
    space = h5py.h5s.create_simple((3,))
    d = h5py.h5d.create(f.id, b"compact", h5py.h5t.STD_U16LE, space, dcpl=dcpl)
    d.write(h5py.h5s.ALL, h5py.h5s.ALL, np.array([1, 2, 3], dtype="<u2"))
    f.create_dataset("single", data=np.arange(12, dtype="<i4").reshape(3, 4), chunks=(3, 4), compression="gzip")
    f.create_dataset("vlstr", data=["one", "two"], dtype=h5py.string_dtype())
    f.create_dataset("farray", data=np.arange(10, dtype="<i4"), chunks=(2,))
    d = f.create_group("dense")
    for i in range(20):
        d.create_group("d%02d" % i)

with h5py.File("../../testdata/shepp8.h5", "r") as src, h5py.File("mrd_h5py.h5", "w") as dst:
    g = dst.create_group("dataset")
    xml = src["dataset/xml"][0]
    g.create_dataset("xml", data=[xml], dtype=h5py.string_dtype())
    data = src["dataset/data"][:]
    g.create_dataset("data", data=data, maxshape=(None,), chunks=(8,), compression="gzip", shuffle=True)
