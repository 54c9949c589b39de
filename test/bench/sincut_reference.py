"""PyTorch side of the `sincut` benchmark (test/bench/sincut.bench.ts).

Times, on the CPU, what the TF.js engine's `sincutTrainStep` does, with SinCUT's networks and
losses as restated in test/fixtures/sincut/sincut_reference.py: G translates the A crops and
the B crops together with one noise draw (B for the identity terms), D takes one Adam step on
1/2 (softplus(D(fake)) + softplus(-D(real))) + the R1 penalty on the real windows (double
backward), then G and H take one Adam step on lambda_GAN softplus(-D(fake))
+ 1/2 (PatchNCE(A) + PatchNCE(B)) + lambda_idt L1(G(B), B) through the updated D. PatchNCE
takes its negatives from the whole minibatch; its keys come from the encoder on the real crops
without a tape (the reference detaches them). D judges a d_patch^2 window of each crop at a
fresh random offset per call (the whole crop when they are the same size). As PyTorch does it:
the whole minibatch in one pass, G's forward kept for G's backward (the TF.js engine goes
through the batch a few images at a time and recomputes, to fit the wasm heap; the sums are
the same). Patch ids, noise and windows are drawn before each timed step, as the TF.js side
draws its SinCutSampling.

Prints one JSON object on the last line of stdout:
  {"torch": "1.13.0", "threads": 2, "times": [s, ...], "cpu_times": [s, ...],
   "peak_rss_mib": 812.3, "cpu_s": 40.2, "params": {"G": n, "D": n, "H": n}, "losses": {...}}
`times` holds the timed steps only (warm-up steps are left out), `cpu_times` the CPU seconds
of each (all of the process's threads: on a machine that others share, at one thread, about
what the step would take alone); `cpu_s` is the process's user + system CPU time, which the
harness uses to tell other processes' load apart; `losses` are the last step's. Progress goes
to stderr.

With `--check STEM` it times nothing: it draws a set of weights (every path carrying signal:
biases and noise strength non-zero), crops, noise, patch ids and windows, writes them to
STEM.json / STEM.bin (the fixtures' format, `patchwork-fixture-1`, torch layouts), and adds
the losses of one step from those weights, computed in float64, so the TF.js side can load the
same weights, run its step and compare.

Run: /usr/bin/python3 test/bench/sincut_reference.py --crop 64 --batch 16 --ngf 10 ...
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import time
from dataclasses import dataclass
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, '..', 'fixtures', 'sincut'))
import sincut_reference as ref  # noqa: E402

Params = Dict[str, torch.Tensor]


# ---------------------------------------------------------------------------- configuration

def tap_layer(tap: str) -> int:
    """The reference's encoder layer id of a tap name: input 0, down1 2, res<k> 2 + k."""
    if tap == 'input':
        return 0
    if tap == 'down1':
        return 2
    if tap.startswith('res') and tap[3:].isdigit() and int(tap[3:]) >= 1:
        return 2 + int(tap[3:])
    raise SystemExit(f'tap "{tap}" does not exist in the StyleGAN2 generator')


@dataclass
class Setting:
    crop: int
    batch: int
    cfg: ref.GConfig
    ndf: int
    d_patch: int
    taps: List[int]
    patches: int
    nc: int
    lambda_gan: float
    lambda_nce: float
    lambda_idt: float
    lambda_r1: float
    nce_idt: bool
    tau: float
    lr: float
    betas: tuple

    @property
    def uses_b(self) -> bool:
        return (self.nce_idt and self.lambda_nce > 0) or self.lambda_idt > 0

    def tap_channels(self) -> List[int]:
        return [3 if t == 0 else self.cfg.c1 for t in self.taps]

    def tap_sizes(self) -> List[int]:
        """H*W of each tap: the input at full resolution, every other at half."""
        half = (self.crop // 2) ** 2
        return [self.crop ** 2 if t == 0 else half for t in self.taps]


def parse_setting(a) -> Setting:
    if a.crop % 2:
        raise SystemExit(f'--crop must be even for the StyleGAN2 generator, got {a.crop}')
    if a.d_patch > a.crop or 2 ** int(round(math.log2(a.d_patch))) != a.d_patch:
        raise SystemExit(f'--d-patch must be a power of 2 no larger than --crop, got {a.d_patch}')
    c0, c1 = ref.reference_g_channels(a.ngf, a.crop)
    taps = [tap_layer(t) for t in a.taps.split(',')]
    if max(taps) > 2 + a.blocks // 2:
        raise SystemExit(f'taps {a.taps}: the encoder has only {a.blocks // 2} residual blocks')
    return Setting(
        crop=a.crop, batch=a.batch, cfg=ref.GConfig(c0=max(1, c0), c1=max(1, c1),
                                                    n_blocks=a.blocks),
        ndf=a.ndf, d_patch=a.d_patch, taps=taps, patches=a.patches, nc=a.nc,
        lambda_gan=a.lambda_gan, lambda_nce=a.lambda_nce, lambda_idt=a.lambda_idt,
        lambda_r1=a.lambda_r1, nce_idt=a.nce_idt == 'true', tau=a.tau, lr=a.lr,
        betas=(a.beta1, a.beta2))


def head_shapes(channels: List[int], nc: int) -> Dict[str, List[int]]:
    """One MLP per tap: Linear(C -> nc), ReLU, Linear(nc -> nc) (the reference's mlp_<i>)."""
    s: Dict[str, List[int]] = {}
    for i, c in enumerate(channels):
        s[f'mlp_{i}.0.weight'] = [nc, c]
        s[f'mlp_{i}.0.bias'] = [nc]
        s[f'mlp_{i}.2.weight'] = [nc, nc]
        s[f'mlp_{i}.2.bias'] = [nc]
    return s


def init_params(shapes: Dict[str, List[int]], gen: torch.Generator, informative: bool,
                xavier_gain: Optional[float] = None) -> Params:
    """Equalised-lr weights N(0, 1) (or xavier-normal with `xavier_gain`, the head's init);
    biases and noise strengths 0, or with `informative` N(0, 0.1^2) and N(0.3, 0.1^2) so every
    path carries signal (for the check)."""
    p: Params = {}
    for name, shape in shapes.items():
        if name.endswith('noise.weight'):
            t = (torch.randn(shape, generator=gen) * 0.1 + 0.3) if informative \
                else torch.zeros(shape)
        elif name.endswith('bias'):
            t = torch.randn(shape, generator=gen) * 0.1 if informative else torch.zeros(shape)
        elif xavier_gain is not None:
            std = xavier_gain * math.sqrt(2.0 / (shape[0] + shape[1]))
            t = torch.randn(shape, generator=gen) * std
        else:
            t = torch.randn(shape, generator=gen)
        p[name] = t.requires_grad_(True)
    return p


@dataclass
class Nets:
    g: Params
    d: Params
    h: Params

    def counts(self) -> Dict[str, int]:
        return {k: sum(t.numel() for t in p.values())
                for k, p in (('G', self.g), ('D', self.d), ('H', self.h))}


def make_nets(s: Setting, gen: torch.Generator, informative: bool) -> Nets:
    return Nets(
        g=init_params(ref.g_param_shapes(s.cfg), gen, informative),
        d=init_params(ref.d_param_shapes(s.ndf, s.d_patch), gen, informative),
        # The reference's head: xavier-normal gain 0.02, zero biases.
        h=init_params(head_shapes(s.tap_channels(), s.nc), gen, informative,
                      xavier_gain=1.0 if informative else 0.02))


# ---------------------------------------------------------------------------- the step

@dataclass
class Sampling:
    ids: List[torch.Tensor]
    ids_y: Optional[List[torch.Tensor]]
    noise: torch.Tensor  # [Bg, 1, H, W]: A's crops, then B's
    windows: Dict[str, List[int]]  # top-left [y, x] of D's windows: fake_d, real_d, fake_g


def draw_sampling(s: Setting, gen: torch.Generator) -> Sampling:
    def ids():
        return [torch.randperm(hw, generator=gen)[:s.patches] for hw in s.tap_sizes()]
    nce_ids = ids()
    ids_y = ids() if s.nce_idt and s.lambda_nce > 0 else None
    bg = s.batch * (2 if s.uses_b else 1)
    noise = torch.randn(bg, 1, s.crop, s.crop, generator=gen)
    span = s.crop - s.d_patch + 1

    def corner():
        return [int(torch.randint(span, (1,), generator=gen)),
                int(torch.randint(span, (1,), generator=gen))]
    windows = {'fake_d': corner(), 'real_d': corner(), 'fake_g': corner()}
    return Sampling(nce_ids, ids_y, noise, windows)


def window(s: Setting, x: torch.Tensor, at: List[int]) -> torch.Tensor:
    if x.shape[2] == s.d_patch and x.shape[3] == s.d_patch:
        return x
    y0, x0 = at
    return x[:, :, y0:y0 + s.d_patch, x0:x0 + s.d_patch]


def encode(pg: Params, cfg: ref.GConfig, x: torch.Tensor, taps: List[int]) -> List[torch.Tensor]:
    """The encoder's features at `taps` (layer ids), stopping at the deepest one (the
    reference's encode_only)."""
    deepest = max(taps)
    feats = {}
    h = x
    if 0 in taps:
        feats[0] = h
    if deepest >= 1:
        h = ref.conv_layer(pg, 'encoder.convs.1', h, 1)
        feats[1] = h
    if deepest >= 2:
        h = ref.res_block(pg, 'encoder.convs.2', h, True)
        feats[2] = h
    for i in range(max(0, deepest - 2)):
        h = ref.res_block(pg, f'encoder.convs.{3 + i}', h, False)
        feats[3 + i] = h
    return [feats[t] for t in taps]


def patch_nce(s: Setting, nets: Nets, keys: List[torch.Tensor], translated: torch.Tensor,
              ids: List[torch.Tensor]) -> torch.Tensor:
    """Mean over the taps of lambda_NCE * the mean PatchNCE loss of the query rows."""
    feats = encode(nets.g, s.cfg, translated, s.taps)
    total = 0
    for i, (f, k) in enumerate(zip(feats, keys)):
        q = ref.project(nets.h, i, f, ids[i])
        total = total + ref.patch_nce_minibatch(q, k, s.tau).mean() * s.lambda_nce
    return total / len(s.taps)


def project_keys(s: Setting, nets: Nets, real: torch.Tensor, ids: List[torch.Tensor]):
    with torch.no_grad():
        return [ref.project(nets.h, i, f, ids[i])
                for i, f in enumerate(encode(nets.g, s.cfg, real, s.taps))]


class Optimisers:
    def __init__(self, s: Setting, nets: Nets) -> None:
        def adam(p: Params):
            return torch.optim.Adam(list(p.values()), lr=s.lr, betas=s.betas, eps=1e-8)
        self.g, self.d, self.h = adam(nets.g), adam(nets.d), adam(nets.h)


def train_step(s: Setting, nets: Nets, opt: Optimisers, real_a: torch.Tensor,
               real_b: torch.Tensor, smp: Sampling) -> Dict[str, float]:
    """One SinCUT step: D's Adam step, then G's and H's through the updated D. Returns the
    losses (D's before its step, G's against the updated D)."""
    n = real_a.shape[0]
    x = torch.cat([real_a, real_b]) if s.uses_b else real_a
    fake_all, _ = ref.generator(nets.g, s.cfg, x, smp.noise)  # [Bg, 3, H, W]
    fake_b = fake_all[:n]

    def judge(t: torch.Tensor) -> torch.Tensor:
        return ref.discriminator(nets.d, s.d_patch, t)

    # D: non-saturating loss on the detached fake and the real windows, R1 on the real ones.
    for t in nets.d.values():
        t.requires_grad_(True)
    opt.d.zero_grad(set_to_none=True)
    loss_d_fake = ref.nonsaturating(judge(window(s, fake_b.detach(), smp.windows['fake_d'])),
                                    False)
    real_win = window(s, real_b, smp.windows['real_d'])
    if s.lambda_r1 > 0:
        loss_r1, pred_real = ref.r1_penalty(judge, real_win, s.lambda_r1)
    else:
        loss_r1, pred_real = torch.zeros(()), judge(real_win)
    loss_d_real = ref.nonsaturating(pred_real, True)
    loss_d = (loss_d_fake + loss_d_real) * 0.5 + loss_r1
    loss_d.backward()
    opt.d.step()

    # G and H against the updated D, which is not trained here.
    for t in nets.d.values():
        t.requires_grad_(False)
    opt.g.zero_grad(set_to_none=True)
    opt.h.zero_grad(set_to_none=True)
    loss_gan = ref.nonsaturating(judge(window(s, fake_b, smp.windows['fake_g'])), True) \
        * s.lambda_gan
    total = loss_gan
    losses = {'D_fake': loss_d_fake, 'D_real': loss_d_real, 'D_R1': loss_r1, 'D': loss_d,
              'G_GAN': loss_gan}
    if s.lambda_nce > 0:
        keys = project_keys(s, nets, real_a, smp.ids)
        nce = patch_nce(s, nets, keys, fake_b, smp.ids)
        losses['NCE'] = nce
        both = nce
        if smp.ids_y is not None:
            keys_y = project_keys(s, nets, real_b, smp.ids_y)
            nce_y = patch_nce(s, nets, keys_y, fake_all[n:], smp.ids_y)
            losses['NCE_Y'] = nce_y
            both = (nce + nce_y) * 0.5
        total = total + both
    if s.uses_b and s.lambda_idt > 0:
        loss_idt = F.l1_loss(fake_all[n:], real_b) * s.lambda_idt
        losses['idt'] = loss_idt
        total = total + loss_idt
    losses['G'] = total
    total.backward()
    opt.g.step()
    if s.lambda_nce > 0:
        opt.h.step()
    return {k: float(v) for k, v in losses.items()}


def crops(s: Setting, gen: torch.Generator):
    a = torch.rand(s.batch, 3, s.crop, s.crop, generator=gen) * 2 - 1
    b = torch.rand(s.batch, 3, s.crop, s.crop, generator=gen) * 2 - 1
    return a, b


# ---------------------------------------------------------------------------- the check

def write_check(s: Setting, stem: str, seed: int, threads: int) -> dict:
    """Weights, inputs and draws of one step in the fixtures' format, and that step's losses
    computed in float64 from exactly those (float32) values."""
    sys.path.insert(0, os.path.join(HERE, '..', 'fixtures', 'reference'))
    from make_fixtures import FixtureWriter  # the fixtures' writer (sets float64, 1 thread)
    torch.set_default_dtype(torch.float32)
    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(seed)
    nets = make_nets(s, gen, informative=True)
    real_a, real_b = crops(s, gen)
    smp = draw_sampling(s, gen)
    w = FixtureWriter()
    for net, p in (('G', nets.g), ('D', nets.d), ('H', nets.h)):
        for name, t in p.items():
            w.tensor(f'{net}.{name}', t)
    w.tensor('step.real_A', real_a)
    w.tensor('step.real_B', real_b)
    w.tensor('step.noise', smp.noise)
    names = [tap_name(t) for t in s.taps]
    for i, name in enumerate(names):
        w.id_list(f'step.ids.nce.{name}', smp.ids[i])
        if smp.ids_y is not None:
            w.id_list(f'step.ids.nceY.{name}', smp.ids_y[i])
    for k, at in smp.windows.items():
        w.id_list(f'step.window.{k}', torch.tensor(at))
    counts = nets.counts()

    torch.set_default_dtype(torch.float64)
    wide = Nets(*[{n: t.detach().double().requires_grad_(True) for n, t in p.items()}
                  for p in (nets.g, nets.d, nets.h)])
    smp64 = Sampling(smp.ids, smp.ids_y, smp.noise.double(), smp.windows)
    losses = train_step(s, wide, Optimisers(s, wide), real_a.double(), real_b.double(), smp64)
    for k, v in losses.items():
        w.scalar(f'step.loss_{k}', v)
    config = {'taps': names, 'batch': s.batch, 'crop': s.crop, 'c0': s.cfg.c0, 'c1': s.cfg.c1,
              'params': counts}
    notes = ('One SinCUT step for the sincut bench\'s check (test/bench/sincut_reference.py): '
             'weights N(0, 1), biases N(0, 0.01), noise strength N(0.3, 0.01), head xavier; '
             'losses in float64. Layouts as torch.')
    w.write(stem, config, notes)
    return {'params': counts, 'losses': losses}


def tap_name(layer: int) -> str:
    return {0: 'input', 2: 'down1'}.get(layer, f'res{layer - 2}')


# ---------------------------------------------------------------------------- main

def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument('--crop', type=int, required=True)
    p.add_argument('--batch', type=int, required=True)
    p.add_argument('--ngf', type=int, required=True)
    p.add_argument('--ndf', type=int, required=True)
    p.add_argument('--blocks', type=int, required=True)
    p.add_argument('--d-patch', type=int, required=True)
    p.add_argument('--taps', default='input,down1,res2')
    p.add_argument('--patches', type=int, default=1)
    p.add_argument('--nc', type=int, default=256)
    p.add_argument('--lambda-gan', type=float, default=1.0)
    p.add_argument('--lambda-nce', type=float, default=4.0)
    p.add_argument('--lambda-idt', type=float, default=1.0)
    p.add_argument('--lambda-r1', type=float, default=1.0)
    p.add_argument('--nce-idt', choices=['true', 'false'], default='true')
    p.add_argument('--tau', type=float, default=0.07)
    p.add_argument('--lr', type=float, default=2e-3)
    p.add_argument('--beta1', type=float, default=0.0)
    p.add_argument('--beta2', type=float, default=0.99)
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--steps', type=int, default=3)
    p.add_argument('--threads', type=int, default=os.cpu_count() or 1)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--check', metavar='STEM', help='write one step to STEM.json/.bin instead')
    a = p.parse_args()
    if a.batch < 1 or a.threads < 1 or a.steps < 0 or a.warmup < 0:
        raise SystemExit('--batch and --threads must be at least 1, --steps and --warmup 0')
    s = parse_setting(a)

    if a.check:
        out = write_check(s, a.check, a.seed, a.threads)
        print(json.dumps({'torch': torch.__version__, 'threads': torch.get_num_threads(), **out}))
        return

    torch.set_num_threads(a.threads)
    gen = torch.Generator().manual_seed(a.seed)
    nets = make_nets(s, gen, informative=False)
    opt = Optimisers(s, nets)
    real_a, real_b = crops(s, gen)
    times: List[float] = []
    cpu_times: List[float] = []
    losses: Dict[str, float] = {}
    for i in range(a.warmup + a.steps):
        smp = draw_sampling(s, gen)
        start, cpu_start = time.perf_counter(), time.process_time()
        losses = train_step(s, nets, opt, real_a, real_b, smp)
        elapsed = time.perf_counter() - start
        if i >= a.warmup:
            times.append(elapsed)
            cpu_times.append(time.process_time() - cpu_start)
        print(f'  [pytorch sincut] step {i + 1}/{a.warmup + a.steps}: {elapsed:.3f} s'
              + (' (warm-up)' if i < a.warmup else ''), file=sys.stderr, flush=True)

    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({'torch': torch.__version__, 'threads': torch.get_num_threads(),
                      'times': times, 'cpu_times': cpu_times, 'params': nets.counts(),
                      'losses': losses,
                      'peak_rss_mib': usage.ru_maxrss / 1024,  # ru_maxrss is KiB on Linux
                      'cpu_s': usage.ru_utime + usage.ru_stime}))


if __name__ == '__main__':
    main()
