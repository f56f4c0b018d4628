#!/usr/bin/python3
"""Export exact Tweedie denoisers of a stationary Gaussian prior as ONNX graphs.

The prior: each channel of x0 is an independent stationary Gaussian field with
mean mu[c] and covariance C = F^-1 diag(P) F (F the orthonormal 2D DFT), with a
decaying power spectrum P(k) = floor + amp / (1 + (|k|/k0)^2)^p. Its Tweedie
denoiser is exact and affine:

    x0_hat = mu + F^-1 diag(a P / (a^2 P + s^2)) F (x - a mu)

for x = a x0 + s z. The graphs look like the networks tweedie runs:

  * VP, eps-parameterised (as DDS's ADM): inputs x [N, C, H, W] and t [N]
    (a float step in [0, T-1], linear beta 1e-4 .. 0.02, T = 1000, alpha-bar
    interpolated linearly between integer steps, as diffusion.Schedule does);
    output eps = (x - a x0_hat) / s.
  * VE, score-parameterised (as NCSN++): inputs x and sigma [N]; output
    score = (x0_hat - x) / sigma^2.
  * a "nan" model with the VP interface whose output is NaN, to test the
    runtime's checks.

The DFT is ONNX's DFT operator (opset 17) along H then W. Each graph gets a
model card (YAML, docs/models.md) beside it, and the spectrum and mean are
written as .npy files so that tests can build the same prior in Go.

Uses only Debian's python3-onnx and python3-numpy:
    /usr/bin/python3 tools/export_gaussian_onnx.py --out reconstruct/diffusion/testdata
"""
import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
T_STEPS = 1000
BETA_MIN, BETA_MAX = 1e-4, 0.02
SIGMA_MIN, SIGMA_MAX = 0.01, 50.0


def spectrum(n, floor=0.02, amp=1.0, k0=3.0, p=1.5):
    """Power spectrum in natural (unshifted) DFT order, shape (n, n)."""
    k = np.fft.fftfreq(n) * n
    kk = np.sqrt(k[:, None] ** 2 + k[None, :] ** 2)
    return (floor + amp / (1.0 + (kk / k0) ** 2) ** p).astype(np.float32)


def mean(n):
    """A non-trivial mean: a bright offset disc-like bump (real part) and a
    smooth ramp-times-bump (imaginary part), shape (2, n, n)."""
    y, x = np.meshgrid(np.arange(n) - n / 2 + 0.5, np.arange(n) - n / 2 + 0.5, indexing="ij")
    r2 = (x - 0.1 * n) ** 2 + (y + 0.05 * n) ** 2
    re = 0.2 + 0.8 * np.exp(-r2 / (2 * (0.22 * n) ** 2))
    im = 0.4 * (x / n) * np.exp(-(x**2 + y**2) / (2 * (0.3 * n) ** 2))
    return np.stack([re, im]).astype(np.float32)


def alpha_bar():
    betas = np.linspace(BETA_MIN, BETA_MAX, T_STEPS, dtype=np.float64)
    return np.cumprod(1.0 - betas).astype(np.float32)


def const(name, arr):
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.asarray(arr), name + "_v"))


def filter_nodes(P, mu, d_in, h_out, out):
    """Nodes computing out = mu + IDFT(h * DFT(d_in)); h_out is [N,1,H,W]."""
    return [
        const("ax_last", np.array([-1], dtype=np.int64)),
        helper.make_node("Unsqueeze", [d_in, "ax_last"], ["d5"]),
        helper.make_node("DFT", ["d5"], ["X1"], axis=2),
        helper.make_node("DFT", ["X1"], ["X2"], axis=3),
        helper.make_node("Unsqueeze", [h_out, "ax_last"], ["h5"]),
        helper.make_node("Mul", ["X2", "h5"], ["Y2"]),
        helper.make_node("DFT", ["Y2"], ["Y1"], axis=3, inverse=1),
        helper.make_node("DFT", ["Y1"], ["Y0"], axis=2, inverse=1),
        const("s0", np.array([0], dtype=np.int64)),
        const("s1", np.array([1], dtype=np.int64)),
        const("s4", np.array([4], dtype=np.int64)),
        helper.make_node("Slice", ["Y0", "s0", "s1", "s4"], ["Yr5"]),
        helper.make_node("Squeeze", ["Yr5", "ax_last"], ["Yr"]),
        helper.make_node("Add", ["mu", "Yr"], [out]),
    ]


def vp_graph(n, ch, nan=False):
    P = spectrum(n)[None, None]  # [1,1,H,W]
    mu = mean(n)[:ch][None]  # [1,C,H,W]
    ab = alpha_bar()
    nodes = [
        const("P", P),
        const("mu", mu),
        const("ab_table", ab),
        const("t_lo", np.array(0.0, dtype=np.float32)),
        const("t_hi", np.array(T_STEPS - 1, dtype=np.float32)),
        const("one_i", np.array(1, dtype=np.int64)),
        const("last_i", np.array(T_STEPS - 1, dtype=np.int64)),
        const("one_f", np.array(1.0, dtype=np.float32)),
        const("shape4", np.array([-1, 1, 1, 1], dtype=np.int64)),
        helper.make_node("Clip", ["t", "t_lo", "t_hi"], ["tc"]),
        helper.make_node("Floor", ["tc"], ["tf"]),
        helper.make_node("Sub", ["tc", "tf"], ["frac"]),
        helper.make_node("Cast", ["tf"], ["i0"], to=TensorProto.INT64),
        helper.make_node("Add", ["i0", "one_i"], ["i1u"]),
        helper.make_node("Min", ["i1u", "last_i"], ["i1"]),
        helper.make_node("Gather", ["ab_table", "i0"], ["ab0"]),
        helper.make_node("Gather", ["ab_table", "i1"], ["ab1"]),
        helper.make_node("Sub", ["ab1", "ab0"], ["dab"]),
        helper.make_node("Mul", ["frac", "dab"], ["fdab"]),
        helper.make_node("Add", ["ab0", "fdab"], ["abt"]),
        helper.make_node("Sqrt", ["abt"], ["a1"]),
        helper.make_node("Sub", ["one_f", "abt"], ["s2_1"]),
        helper.make_node("Sqrt", ["s2_1"], ["s1d"]),
        helper.make_node("Reshape", ["a1", "shape4"], ["a"]),
        helper.make_node("Reshape", ["s1d", "shape4"], ["s"]),
        helper.make_node("Reshape", ["s2_1", "shape4"], ["s2"]),
        # d = x - a mu
        helper.make_node("Mul", ["a", "mu"], ["amu"]),
        helper.make_node("Sub", ["x", "amu"], ["d"]),
        # h = a P / (a^2 P + s^2)
        helper.make_node("Mul", ["a", "P"], ["aP"]),
        helper.make_node("Mul", ["a", "aP"], ["a2P"]),
        helper.make_node("Add", ["a2P", "s2"], ["den"]),
        helper.make_node("Div", ["aP", "den"], ["h"]),
    ]
    nodes += filter_nodes(P, mu, "d", "h", "x0")
    nodes += [
        helper.make_node("Mul", ["a", "x0"], ["ax0"]),
        helper.make_node("Sub", ["x", "ax0"], ["num"]),
        helper.make_node("Div", ["num", "s"], ["eps_ok"]),
    ]
    if nan:
        nodes += [
            const("zero_f", np.array(0.0, dtype=np.float32)),
            helper.make_node("Div", ["zero_f", "zero_f"], ["nanv"]),
            helper.make_node("Mul", ["eps_ok", "nanv"], ["eps"]),
        ]
    else:
        nodes += [helper.make_node("Identity", ["eps_ok"], ["eps"])]
    inputs = [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", ch, n, n]),
        helper.make_tensor_value_info("t", TensorProto.FLOAT, ["N"]),
    ]
    outputs = [helper.make_tensor_value_info("eps", TensorProto.FLOAT, ["N", ch, n, n])]
    return helper.make_graph(nodes, "gaussian_vp_eps", inputs, outputs)


def ve_graph(n, ch):
    P = spectrum(n)[None, None]
    mu = mean(n)[:ch][None]
    nodes = [
        const("P", P),
        const("mu", mu),
        const("shape4", np.array([-1, 1, 1, 1], dtype=np.int64)),
        helper.make_node("Reshape", ["sigma", "shape4"], ["s"]),
        helper.make_node("Mul", ["s", "s"], ["s2"]),
        helper.make_node("Sub", ["x", "mu"], ["d"]),
        helper.make_node("Add", ["P", "s2"], ["den"]),
        helper.make_node("Div", ["P", "den"], ["h"]),
    ]
    nodes += filter_nodes(P, mu, "d", "h", "x0")
    nodes += [
        helper.make_node("Sub", ["x0", "x"], ["num"]),
        helper.make_node("Div", ["num", "s2"], ["score"]),
    ]
    inputs = [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", ch, n, n]),
        helper.make_tensor_value_info("sigma", TensorProto.FLOAT, ["N"]),
    ]
    outputs = [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N", ch, n, n])]
    return helper.make_graph(nodes, "gaussian_ve_score", inputs, outputs)


CARD = """# tweedie model card (docs/models.md). Generated by tools/export_gaussian_onnx.py.
name: {name}
description: >-
  Exact Tweedie denoiser of a stationary Gaussian prior (power spectrum
  {floor} + 1/(1 + (|k|/3)^2)^1.5 per channel, non-zero mean), for tests
  of the samplers against the closed-form Gaussian posterior. {extra}
file: {name}.onnx
modality: {modality}
parameterisation: {param}
schedule:
{schedule}
inputs:
  image: x
  time: {time}
output: {output}
channels: {ch}
output_channels: {ch}
sizes: [[{n}, {n}]]
batch: 0
normalisation:
  method: none
training_data: none (analytic prior; spectrum and mean in {prefix}_spectrum.npy and {prefix}_mean.npy)
licence: same as tweedie
"""

VP_SCHED = "  kind: vp\n  beta_min: 0.0001\n  beta_max: 0.02\n  steps: 1000"
VE_SCHED = f"  kind: ve\n  sigma_min: {SIGMA_MIN}\n  sigma_max: {SIGMA_MAX}"


def save(out, name, graph, card_fields):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="tweedie tools/export_gaussian_onnx.py")
    model.ir_version = 8
    model.doc_string = "Exact Tweedie denoiser of a stationary Gaussian prior (tweedie test model)"
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(out, name + ".onnx"))
    with open(os.path.join(out, name + ".yaml"), "w") as f:
        f.write(CARD.format(name=name, **card_fields))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--size", type=int, default=32)
    a = ap.parse_args()
    n = a.size
    os.makedirs(a.out, exist_ok=True)
    prefix = f"gauss{n}"
    np.save(os.path.join(a.out, prefix + "_spectrum.npy"), spectrum(n))
    np.save(os.path.join(a.out, prefix + "_mean.npy"), mean(n))
    common = dict(n=n, prefix=prefix, floor=0.02)
    save(a.out, f"gauss_vp_mr{n}", vp_graph(n, 2), dict(common, modality="MR", param="eps", schedule=VP_SCHED,
                                                        time="t", output="eps", ch=2, extra="VP, eps, complex (2 channels)."))
    save(a.out, f"gauss_vp_ct{n}", vp_graph(n, 1), dict(common, modality="CT", param="eps", schedule=VP_SCHED,
                                                        time="t", output="eps", ch=1, extra="VP, eps, real (1 channel)."))
    save(a.out, f"gauss_ve_mr{n}", ve_graph(n, 2), dict(common, modality="MR", param="score", schedule=VE_SCHED,
                                                        time="sigma", output="score", ch=2, extra="VE, score, complex."))
    save(a.out, f"nan_mr{n}", vp_graph(n, 2, nan=True), dict(common, modality="MR", param="eps", schedule=VP_SCHED,
                                                             time="t", output="eps", ch=2,
                                                             extra="Broken on purpose: its output is NaN."))


if __name__ == "__main__":
    main()
