#!/usr/bin/python3
"""Import an external PyTorch score model into tweedie's ONNX interface and card.

Two kinds of published networks are supported:

  adm     VP / DDPM, eps-prediction, called as net(x, t) with t the integer-
          valued timestep in [0, T-1] (fed as a float); output C channels or,
          with learned variance, 2C (the runtime uses the first C): guided-
          diffusion / DDS checkpoints.  Card: parameterisation eps, schedule vp.
  ncsnpp  VE, score-prediction, called as net(x, sigma) with the output
          already divided by sigma (score_sde's scale_by_sigma): score-MRI /
          DiffusionMBIR checkpoints.  Card: parameterisation score, schedule ve,
          time input sigma.

The network object comes from a Python factory, "FILE.py:NAME" (NAME a class
or function called with the --kwargs JSON), and the weights from --ckpt (a
state dict, or a dict holding one under --state-key, e.g. "ema" or
"model"; a "module." prefix is stripped). Graph inputs are x [N, C, H, W] and
t [N]; the output is eps (or score); batch, height and width are dynamic
unless --fixed-size is given (export one graph per size when the network has
size-dependent branches, e.g. attention resolutions tied to the input).

    import_torch.py --factory /path/guided_diffusion_factory.py:make --ckpt model.pt --state-key ema \\
        --kind adm --channels 2 --learned-variance --modality MR --size 320x320 --fixed-size \\
        --name dds_fastmri_knee --out models --training-data "..." --licence "..."

    import_torch.py --selftest     # tiny random stand-ins of both kinds (no checkpoint download here)
"""
import argparse
import importlib.util
import json
import os
import sys
import tempfile

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export import write_card  # noqa: E402


class Wrapper(nn.Module):
    """Adapts the call (x, t) of tweedie's runtime to the network's own."""

    def __init__(self, net, kind, t_scale=1.0):
        super().__init__()
        self.net, self.kind, self.t_scale = net, kind, t_scale

    def forward(self, x, t):
        if self.kind == "adm":
            return self.net(x, t * self.t_scale)
        return self.net(x, t)  # ncsnpp: t is sigma


def load_factory(spec, kwargs):
    path, name = spec.rsplit(":", 1)
    m = importlib.util.spec_from_file_location("external_model", path)
    mod = importlib.util.module_from_spec(m)
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    m.loader.exec_module(mod)
    return getattr(mod, name)(**kwargs)


def load_weights(net, ckpt, key):
    s = torch.load(ckpt, map_location="cpu")
    if key:
        s = s[key]
    elif isinstance(s, dict) and "state_dict" in s:
        s = s["state_dict"]
    s = {k[7:] if k.startswith("module.") else k: v for k, v in s.items()}
    net.load_state_dict(s)


def export(net, a, path, size):
    w = Wrapper(net, a.kind, a.t_scale).eval()
    x = torch.randn(1, a.channels, size[0], size[1])
    t = torch.tensor([500.0 if a.kind == "adm" else 1.0])
    dyn = None
    if not a.fixed_size:
        dyn = {"x": {0: "N", 2: "H", 3: "W"}, "t": {0: "N"}, "eps": {0: "N", 2: "H", 3: "W"}}
    else:
        dyn = {"x": {0: "N"}, "t": {0: "N"}, "eps": {0: "N"}}
    with torch.no_grad():
        ref = w(x, t)
    torch.onnx.export(w, (x, t), path, opset_version=17, input_names=["x", "t"], output_names=["eps"],
                      dynamic_axes=dyn, do_constant_folding=True)
    import onnx
    onnx.checker.check_model(onnx.load(path))
    return ref


def card(a, path_dir):
    if a.kind == "adm":
        sched = {"kind": "vp", "beta_min": a.beta_min, "beta_max": a.beta_max, "steps": a.steps}
        param = "eps"
    else:
        sched = {"kind": "ve", "sigma_min": a.sigma_min, "sigma_max": a.sigma_max}
        param = "score"
    if a.modality == "CT":
        norm = {"method": "hu-window", "low": a.hu_low, "high": a.hu_high}
    else:
        norm = {"method": "percentile", "percentile": a.percentile, "value": a.value}
    sizes = [list(map(int, s.split("x"))) for s in a.size.split(",")]
    oc = 2 * a.channels if a.learned_variance else a.channels
    desc = a.description or f"imported {a.kind} score model ({a.factory}, {os.path.basename(a.ckpt or 'random')})"
    return write_card(path_dir, a.name, a.modality, a.channels, oc, desc, a.training_data, a.licence, norm,
                      a.default, sizes=sizes, parameterisation=param, schedule=sched)


def parser():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--factory", help="FILE.py:NAME building the network")
    ap.add_argument("--kwargs", default="{}", help="JSON keyword arguments of the factory")
    ap.add_argument("--ckpt")
    ap.add_argument("--state-key", default="")
    ap.add_argument("--kind", choices=["adm", "ncsnpp"])
    ap.add_argument("--channels", type=int, default=2)
    ap.add_argument("--learned-variance", action="store_true", help="adm: the network outputs 2C channels")
    ap.add_argument("--t-scale", type=float, default=1.0, help="adm: the network's time input is t * this")
    ap.add_argument("--modality", choices=["MR", "CT"], default="MR")
    ap.add_argument("--size", default="256x256", help="rows x cols, comma-separated list for the card")
    ap.add_argument("--fixed-size", action="store_true", help="export with fixed height and width (first --size)")
    ap.add_argument("--beta-min", type=float, default=0.0001)
    ap.add_argument("--beta-max", type=float, default=0.02)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--sigma-min", type=float, default=0.01)
    ap.add_argument("--sigma-max", type=float, default=378.0)
    ap.add_argument("--percentile", type=float, default=99)
    ap.add_argument("--value", type=float, default=1)
    ap.add_argument("--hu-low", type=float, default=-1000)
    ap.add_argument("--hu-high", type=float, default=1000)
    ap.add_argument("--name")
    ap.add_argument("--out", default="models")
    ap.add_argument("--description", default="")
    ap.add_argument("--training-data", default="")
    ap.add_argument("--licence", default="")
    ap.add_argument("--default", action="store_true")
    ap.add_argument("--selftest", metavar="DIR", nargs="?", const=os.path.join(tempfile.gettempdir(), "tweedie-import-selftest"))
    return ap


# Tiny stand-ins with the published call conventions, for --selftest.
class TinyADM(nn.Module):
    def __init__(self, c=2, learned_variance=True):
        super().__init__()
        self.emb = nn.Linear(1, 16)
        self.c1 = nn.Conv2d(c, 16, 3, padding=1)
        self.c2 = nn.Conv2d(16, 2 * c if learned_variance else c, 3, padding=1)

    def forward(self, x, timesteps):
        e = self.emb((timesteps.float() / 1000.0)[:, None])[:, :, None, None]
        return self.c2(torch.nn.functional.silu(self.c1(x) + e))


class TinyNCSNpp(nn.Module):
    def __init__(self, c=2):
        super().__init__()
        self.emb = nn.Linear(1, 16)
        self.c1 = nn.Conv2d(c, 16, 3, padding=1)
        self.c2 = nn.Conv2d(16, c, 3, padding=1)

    def forward(self, x, sigmas):
        e = self.emb(torch.log(sigmas)[:, None])[:, :, None, None]
        h = self.c2(torch.nn.functional.silu(self.c1(x) + e))
        return h / sigmas[:, None, None, None]  # scale_by_sigma


def selftest(d):
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(0)
    for kind, net, lv in (("adm", TinyADM(2, True), True), ("ncsnpp", TinyNCSNpp(2), False)):
        ck = os.path.join(d, f"{kind}.pt")
        torch.save({"ema": net.state_dict()}, ck)
        a = parser().parse_args(["--kind", kind, "--ckpt", ck, "--state-key", "ema", "--channels", "2",
                                 "--size", "64x64,128x128", "--name", f"selftest_{kind}", "--out", d,
                                 "--training-data", "none: random weights (import self-test)",
                                 "--licence", "CC0-1.0"] + (["--learned-variance"] if lv else []))
        fresh = TinyADM(2, True) if kind == "adm" else TinyNCSNpp(2)
        load_weights(fresh, ck, "ema")
        ref = export(fresh, a, os.path.join(d, a.name + ".onnx"), (64, 64))
        card(a, d)
        print(f"{kind}: {os.path.join(d, a.name)}.onnx + .yaml, output {tuple(ref.shape)}")
    print("check with tweedie (loads the card, checks the graph, probes):\n"
          f"  bin/tweedie recon --reconstructor dds --set model={d}/selftest_adm.yaml --set nfe=4 ...")


def main():
    a = parser().parse_args()
    if a.selftest:
        selftest(a.selftest)
        return
    for k in ("factory", "kind", "name", "training_data", "licence"):
        if not getattr(a, k):
            sys.exit(f"--{k.replace('_', '-')} is required")
    net = load_factory(a.factory, json.loads(a.kwargs))
    if a.ckpt:
        load_weights(net, a.ckpt, a.state_key)
    os.makedirs(a.out, exist_ok=True)
    size = list(map(int, a.size.split(",")[0].split("x")))
    export(net, a, os.path.join(a.out, a.name + ".onnx"), size)
    digest = card(a, a.out)
    print(f"{os.path.join(a.out, a.name)}.onnx sha256 {digest}")


if __name__ == "__main__":
    main()
