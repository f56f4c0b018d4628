#!/usr/bin/python3
"""Static INT8 quantisation of a score UNet (MR, 2 channels, or CT, 1) in QDQ form (issue 17, item 2).

    /usr/bin/python3 tools/train/quantize.py --model FLOAT/tweedie_mr_unet.onnx --out DIR [--name tweedie_mr_unet_int8]
        [--skip inp,out] [--calib 48] [--percentile 99.99] [--check-in FILE.npy]

The training checkpoint is not needed: the float ONNX model's initializers are
loaded into tools/train/unet.py's UNet (base 32, nres 1; the GroupNorm affine
parameters, which the exporter folded into [C, 1, 1] Mul/Add constants, are
taken in graph order). The activation ranges of every Conv's input and output
are collected with torch forward hooks on TRAINING images only (Colin27 T1
axial 256 and the VSSEG T1c 256 slices, each scaled so that its 99th percentile
of |u| is 1, times a smooth random phase as data.py does, diffused with the VP
schedule to random t in [0, 999]); the validation files are never read.

The graph written (ONNX Runtime's QDQ format, opset 17):
- each Conv's weight: int8, symmetric, one scale per output channel
  (DequantizeLinear axis 0); its bias int32 at scale s_x * s_w;
- each Conv's input and output: QuantizeLinear -> DequantizeLinear, uint8,
  one scale and zero point per tensor. The output pair is what lets ONNX
  Runtime fuse DQ -> Conv -> Q into one QLinearConv (integer arithmetic);
- everything else (time embedding, GroupNorm, SiLU, adds, concat, resize)
  stays float. --skip names Conv modules left in float (default: the first
  and the last, which touch the network's input and its eps output).

OUT/NAME.onnx and OUT/NAME.yaml (the card, tools/train/export.py's write_card)
are written; --check-in writes OUT/torch_eps.npy for the float torch network
on the given [N, 2, H, W] images (time from --check-t) so that the runtime's
output can be compared (reconstruct/onnx TestModelEps).
"""
import argparse
import json
import os
import sys

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from unet import UNet, vp_alphas_cumprod  # noqa: E402
from data import CT_HIGH, CT_LOW, DATA, smooth_field  # noqa: E402
from export import MR_DATA, MR_LICENCE, sha256, write_card  # noqa: E402

CALIB_FILES = ["mri/colin27_t1_axial_256.npy", "mri/vsseg_t1c_256.npy"]  # training files only
# CT: the 256² training stacks of data.py (chest, abdomen, head), window-scaled as the network sees them
CT_CALIB_FILES = ["ct/lungdx_a0001_chest_hu_256.npy", "ct/lungdx_a0002_chest_hu_256.npy",
                  "ct/totalseg_abdomen_hu_256.npy", "ct/gehead_hu_256.npy"]


def onnx_channels(path):
    """C of the model's image input [N, C, H, W]: 2 = MR (real, imaginary), 1 = CT."""
    m = onnx.load(path)
    for i in m.graph.input:
        if i.name == "x":
            return i.type.tensor_type.shape.dim[1].dim_value
    raise SystemExit(f"{path}: no input named x")


def torch_from_onnx(path):
    """The float ONNX model's weights in unet.UNet (base 32, nres 1)."""
    m = onnx.load(path)
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    net = UNet(channels=onnx_channels(path), base=32, nres=1)
    sd = net.state_dict()
    new = {}
    for k in sd:
        if k in inits:
            new[k] = torch.from_numpy(inits[k].copy())
    # GroupNorm affine: Mul by a [C,1,1] constant then Add of one, in graph order.
    gn_mul, gn_add = [], []
    for n in m.graph.node:
        if n.op_type == "Mul" and len(n.input) == 2 and n.input[1] in inits and inits[n.input[1]].ndim == 3:
            gn_mul.append(n.input[1])
        if n.op_type == "Add" and len(n.input) == 2 and n.input[1] in inits and inits[n.input[1]].ndim == 3:
            gn_add.append(n.input[1])
    norms = [k[:-len(".weight")] for k in sd if k.endswith(".weight") and isinstance(
        net.get_submodule(k[:-len(".weight")]), torch.nn.GroupNorm)]
    if not (len(norms) == len(gn_mul) == len(gn_add)):
        raise SystemExit(f"{path}: {len(gn_mul)}/{len(gn_add)} GroupNorm constants for {len(norms)} GroupNorms")
    for name, w, b in zip(norms, gn_mul, gn_add):
        new[name + ".weight"] = torch.from_numpy(inits[w].reshape(-1).copy())
        new[name + ".bias"] = torch.from_numpy(inits[b].reshape(-1).copy())
    missing = [k for k in sd if k not in new]
    if missing:
        raise SystemExit(f"{path}: no weights for {missing}")
    for k in sd:
        if tuple(sd[k].shape) != tuple(new[k].shape):
            raise SystemExit(f"{path}: {k} has shape {tuple(new[k].shape)}, the UNet wants {tuple(sd[k].shape)}")
    net.load_state_dict(new)
    return net.eval()


def calibration_images(rng, n, size=256, channels=2):
    """n training slices (no crops). MR: 99th percentile of |u| = 1, smooth random phase.
    CT: HU window-scaled as data.py, x = (HU + 1000) / 2000, mostly-air slices skipped."""
    if channels == 1:
        pool = []
        for f in CT_CALIB_FILES:
            for s in np.load(os.path.join(DATA, f)).astype(np.float32):
                x = (s - CT_LOW) / (CT_HIGH - CT_LOW)
                if (x > 0.1).mean() >= 0.1:
                    pool.append(x)
        pick = rng.choice(len(pool), n, replace=False)
        return torch.from_numpy(np.stack([pool[i] for i in pick]))[:, None]
    pool = []
    for f in CALIB_FILES:
        v = np.load(os.path.join(DATA, f)).astype(np.float32)
        vq = np.percentile(v, 99)
        for s in v:
            q = np.percentile(np.abs(s), 99)
            if q < 0.3 * vq or (s > 0.1 * q).mean() < 0.08:  # nearly empty slices, as data.py
                continue
            pool.append(s / q)
    pick = rng.choice(len(pool), n, replace=False)
    x = torch.from_numpy(np.stack([pool[i] for i in pick]))[:, None]
    if x.shape[-1] != size:
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    ph = smooth_field(rng, n, size, rng.uniform(0.3, 1.5))
    return torch.cat([x * torch.cos(ph), x * torch.sin(ph)], dim=1)


@torch.no_grad()
def calibrate(net, rng, n, batch, percentile):
    """Per Conv module: (lo, hi) of its input and of its output."""
    abar = vp_alphas_cumprod()
    stats = {}

    def hook(name):
        def f(mod, inp, out):
            for kind, v in (("in", inp[0]), ("out", out)):
                v = v.detach().float().reshape(-1)
                if percentile < 100:
                    k = max(1, int(v.numel() * (1 - percentile / 100)))
                    lo, hi = -torch.topk(-v, k).values[-1].item(), torch.topk(v, k).values[-1].item()
                else:
                    lo, hi = v.min().item(), v.max().item()
                s = stats.setdefault((name, kind), [[], []])
                s[0].append(lo)
                s[1].append(hi)
        return f

    hs = [m.register_forward_hook(hook(nm)) for nm, m in net.named_modules() if isinstance(m, torch.nn.Conv2d)]
    x0 = calibration_images(rng, n, channels=net.channels)
    t = torch.from_numpy(rng.integers(0, 1000, n)).long()
    eps = torch.from_numpy(rng.standard_normal(x0.shape).astype(np.float32))
    a = abar[t][:, None, None, None]
    xt = a.sqrt() * x0 + (1 - a).sqrt() * eps
    for i in range(0, n, batch):
        net(xt[i:i + batch], t[i:i + batch].float())
    for h in hs:
        h.remove()
    # min/max over all batches (percentile: mean of the per-batch percentiles)
    agg = np.min if percentile >= 100 else np.mean
    agg_hi = np.max if percentile >= 100 else np.mean
    return {k: (float(agg(v[0])), float(agg_hi(v[1]))) for k, v in stats.items()}


def act_qparams(lo, hi):
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = max(hi - lo, 1e-8) / 255.0
    zp = int(np.clip(round(-lo / scale), 0, 255))
    return np.float32(scale), np.uint8(zp)


def quantise_graph(path, ranges, skip):
    m = onnx.load(path)
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    outputs = {o.name for o in g.output}
    new_inits, qdq = [], {}
    nodes = []

    def act_qdq(tensor, lo, hi, pre_nodes):
        """DQ(Q(tensor)) as a new tensor name, made once per tensor."""
        if tensor in qdq:
            return qdq[tensor]
        s, z = act_qparams(lo, hi)
        sn, zn = tensor + "_scale", tensor + "_zp"
        new_inits.append(numpy_helper.from_array(np.array(s, np.float32), sn))
        new_inits.append(numpy_helper.from_array(np.array(z, np.uint8), zn))
        pre_nodes.append(helper.make_node("QuantizeLinear", [tensor, sn, zn], [tensor + "_q"], name=tensor + "_Q"))
        pre_nodes.append(helper.make_node("DequantizeLinear", [tensor + "_q", sn, zn], [tensor + "_dq"], name=tensor + "_DQ"))
        qdq[tensor] = (tensor + "_dq", s)
        return qdq[tensor]

    n_q = 0
    for node in g.node:
        if node.op_type != "Conv" or len(node.input) < 2 or node.input[1] not in inits:
            nodes.append(node)
            continue
        mod = node.input[1][:-len(".weight")]
        if mod in skip or (mod, "in") not in ranges:
            nodes.append(node)
            continue
        n_q += 1
        x, wn = node.input[0], node.input[1]
        xdq, sx = act_qdq(x, *ranges[(mod, "in")], nodes)
        w = numpy_helper.to_array(inits[wn]).astype(np.float32)
        sw = np.maximum(np.abs(w).reshape(w.shape[0], -1).max(1), 1e-12) / 127.0
        wq = np.clip(np.round(w / sw[:, None, None, None]), -127, 127).astype(np.int8)
        new_inits += [numpy_helper.from_array(wq, wn + "_q"),
                      numpy_helper.from_array(sw.astype(np.float32), wn + "_scale"),
                      numpy_helper.from_array(np.zeros(w.shape[0], np.int8), wn + "_zp")]
        nodes.append(helper.make_node("DequantizeLinear", [wn + "_q", wn + "_scale", wn + "_zp"], [wn + "_dq"],
                                      name=wn + "_DQ", axis=0))
        ins = [xdq, wn + "_dq"]
        if len(node.input) > 2 and node.input[2]:
            bn = node.input[2]
            b = numpy_helper.to_array(inits[bn]).astype(np.float64)
            sb = (np.float64(sx) * sw.astype(np.float64))
            bq = np.round(b / sb).astype(np.int32)
            new_inits += [numpy_helper.from_array(bq, bn + "_q"),
                          numpy_helper.from_array(sb.astype(np.float32), bn + "_scale"),
                          numpy_helper.from_array(np.zeros(w.shape[0], np.int32), bn + "_zp")]
            nodes.append(helper.make_node("DequantizeLinear", [bn + "_q", bn + "_scale", bn + "_zp"], [bn + "_dq"],
                                          name=bn + "_DQ", axis=0))
            ins.append(bn + "_dq")
        y = node.output[0]
        if y in outputs:
            nodes.append(helper.make_node("Conv", ins, [y], name=node.name, **attrs(node)))
            continue
        nodes.append(helper.make_node("Conv", ins, [y + "_f"], name=node.name, **attrs(node)))
        s, z = act_qparams(*ranges[(mod, "out")])
        new_inits += [numpy_helper.from_array(np.array(s, np.float32), y + "_scale"),
                      numpy_helper.from_array(np.array(z, np.uint8), y + "_zp")]
        nodes.append(helper.make_node("QuantizeLinear", [y + "_f", y + "_scale", y + "_zp"], [y + "_q"], name=y + "_Q"))
        nodes.append(helper.make_node("DequantizeLinear", [y + "_q", y + "_scale", y + "_zp"], [y], name=y + "_DQ"))
        qdq[y] = (y, s)  # a later Conv reading y reads this DequantizeLinear
    used = set()
    for nd in nodes:
        used.update(nd.input)
    keep = [i for i in g.initializer if i.name in used] + [i for i in new_inits]
    del g.node[:]
    g.node.extend(nodes)
    del g.initializer[:]
    g.initializer.extend([i for i in keep if i.name in used])
    onnx.checker.check_model(m)
    return m, n_q


def attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="the FLOAT model (the shipped one is already INT8: "
                    "git show 6f61232:models/tweedie_mr_unet.onnx > FLOAT/tweedie_mr_unet.onnx, its card beside it)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--name", default="tweedie_mr_unet_int8")
    ap.add_argument("--skip", default="inp,out", help="Conv modules kept in float ('' for none)")
    ap.add_argument("--calib", type=int, default=48, help="calibration images (256², random t)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--percentile", type=float, default=100.0, help="activation range: 100 = min/max")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ranges", help="activation ranges from an earlier run (OUT/ranges.json) instead of calibrating")
    ap.add_argument("--default", action="store_true", help="mark the card default (to replace the shipped model)")
    ap.add_argument("--check-in", help="[N, 2, H, W] float32 .npy: write OUT/torch_eps.npy")
    ap.add_argument("--check-t", type=float, default=300.0)
    a = ap.parse_args()
    torch.set_num_threads(2)
    net = torch_from_onnx(a.model)
    os.makedirs(a.out, exist_ok=True)
    if a.check_in:
        with torch.no_grad():
            x = torch.from_numpy(np.load(a.check_in).astype(np.float32))
            e = net(x, torch.full((x.shape[0],), a.check_t))
        np.save(os.path.join(a.out, "torch_eps.npy"), e.numpy())
    if a.ranges:
        ranges = {tuple(k.split("|")): tuple(v) for k, v in json.load(open(a.ranges)).items()}
    else:
        rng = np.random.default_rng(a.seed)
        ranges = calibrate(net, rng, a.calib, a.batch, a.percentile)
        with open(os.path.join(a.out, "ranges.json"), "w") as f:
            json.dump({"|".join(k): v for k, v in ranges.items()}, f, indent=0)
    skip = {s for s in a.skip.split(",") if s}
    qm, n_q = quantise_graph(a.model, ranges, skip)
    path = os.path.join(a.out, a.name + ".onnx")
    onnx.save(qm, path)
    card = os.path.splitext(a.model)[0] + ".yaml"
    orig, data, licence = "", MR_DATA, MR_LICENCE  # the float card's, where it states them
    for ln in open(card):
        if ln.startswith("description: "):
            orig = json.loads(ln[len("description: "):]).split(" (sha256 of ")[0]
        elif ln.startswith("training_data: "):
            data = json.loads(ln[len("training_data: "):])
        elif ln.startswith("licence: "):
            licence = json.loads(ln[len("licence: "):])
    desc = (f"INT8 (static QDQ: per-channel symmetric int8 weights, per-tensor uint8 activations, int32 biases; "
            f"{n_q} of 36 convolutions, float: {', '.join(sorted(skip)) or 'none'}; activation ranges "
            f"{'min/max' if a.percentile >= 100 else f'{a.percentile}th percentile'} over {a.calib} training slices "
            f"at random VP noise levels; tools/train/quantize.py) of the float model {os.path.basename(a.model)} "
            f"(sha256 {sha256(a.model)}): {orig}")
    if net.channels == 1:
        d = write_card(a.out, a.name, "CT", 1, 1, desc, data, licence,
                       {"method": "hu-window", "low": CT_LOW, "high": CT_HIGH}, a.default)
    else:
        d = write_card(a.out, a.name, "MR", 2, 2, desc, data, licence,
                       {"method": "percentile", "percentile": 99, "value": 1}, a.default)
    print(f"{path}: {n_q} Conv quantised, {os.path.getsize(path) / 1e6:.2f} MB, sha256 {d}")


if __name__ == "__main__":
    main()
