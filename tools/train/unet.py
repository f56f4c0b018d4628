"""Small fully convolutional UNet score model (VP, eps-prediction).

Base 32 channels, multipliers 1/2/4, two residual blocks per level, GroupNorm,
SiLU, a sinusoidal time embedding added in every block, no attention: about
2 M parameters. Any image whose sides are divisible by 4 (16 is safe) works.
The time input t is a float in [0, T-1] (T = 1000), as tweedie's runtime feeds it.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def timestep_embedding(t, dim):
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    arg = t.float()[:, None] * freqs[None, :]
    return torch.cat([torch.sin(arg), torch.cos(arg)], dim=1)


def norm(c):
    return nn.GroupNorm(min(8, c // 4), c)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, tdim, dropout=0.0):
        super().__init__()
        self.n1 = norm(cin)
        self.c1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.t = nn.Linear(tdim, cout)
        self.n2 = norm(cout)
        self.drop = nn.Dropout(dropout)
        self.c2 = nn.Conv2d(cout, cout, 3, padding=1)
        nn.init.zeros_(self.c2.weight)
        nn.init.zeros_(self.c2.bias)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, temb):
        h = self.c1(F.silu(self.n1(x)))
        h = h + self.t(temb)[:, :, None, None]
        h = self.c2(self.drop(F.silu(self.n2(h))))
        return self.skip(x) + h


class UNet(nn.Module):
    def __init__(self, channels=2, base=32, mult=(1, 2, 4), nres=2, tdim=128, out_channels=None, dropout=0.0):
        super().__init__()
        self.channels = channels
        self.tdim = tdim
        out_channels = out_channels or channels
        self.temb = nn.Sequential(nn.Linear(tdim, tdim * 2), nn.SiLU(), nn.Linear(tdim * 2, tdim * 2))
        td = tdim * 2
        self.inp = nn.Conv2d(channels, base, 3, padding=1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        chans = [base]
        c = base
        for i, m in enumerate(mult):
            blocks = nn.ModuleList()
            for _ in range(nres):
                blocks.append(ResBlock(c, base * m, td, dropout))
                c = base * m
                chans.append(c)
            self.down.append(blocks)
            if i < len(mult) - 1:
                self.downsample.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
                chans.append(c)
        self.mid = nn.ModuleList([ResBlock(c, c, td, dropout), ResBlock(c, c, td, dropout)])
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i, m in reversed(list(enumerate(mult))):
            blocks = nn.ModuleList()
            for _ in range(nres + 1):
                blocks.append(ResBlock(c + chans.pop(), base * m, td, dropout))
                c = base * m
            self.up.append(blocks)
            if i > 0:
                self.upsample.append(nn.Conv2d(c, c, 3, padding=1))
        self.out_norm = norm(c)
        self.out = nn.Conv2d(c, out_channels, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x, t):
        temb = self.temb(timestep_embedding(t, self.tdim))
        h = self.inp(x)
        hs = [h]
        for i, blocks in enumerate(self.down):
            for b in blocks:
                h = b(h, temb)
                hs.append(h)
            if i < len(self.downsample):
                h = self.downsample[i](h)
                hs.append(h)
        for b in self.mid:
            h = b(h, temb)
        for i, blocks in enumerate(self.up):
            for b in blocks:
                h = b(torch.cat([h, hs.pop()], dim=1), temb)
            if i < len(self.upsample):
                h = self.upsample[i](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.out(F.silu(self.out_norm(h)))


def vp_alphas_cumprod(beta_min=1e-4, beta_max=0.02, steps=1000):
    betas = torch.linspace(beta_min, beta_max, steps, dtype=torch.float64)
    return torch.cumprod(1 - betas, 0).float()
