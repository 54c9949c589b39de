"""PyTorch side of the benchmark bundle: the reference model as restated in
fixtures/reference/cut_reference.py, timed on CUDA (or on the CPU where there is no CUDA,
said in the output), so the bundle can print TF.js-on-WebGPU and PyTorch on the same GPU.

  --what forward|cut|fastcut  one G forward (no autograd) / one full optimisation step, at
                              --size (square), batch 1
  --what convert              one untiled G forward at --width × --height

Prints one JSON object on the last line of stdout:
  {"torch": "2.4.0", "device": "cuda: NVIDIA ...", "what": "cut", "times": [s, ...]}
Timing synchronises the device before reading the clock. Progress goes to stderr.
"""

import argparse
import json
import os
import random
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'fixtures', 'reference'))
import cut_reference as ref  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument('--what', choices=['forward', 'cut', 'fastcut', 'convert'], required=True)
    p.add_argument('--size', type=int, default=256)
    p.add_argument('--width', type=int, default=0)
    p.add_argument('--height', type=int, default=0)
    p.add_argument('--ngf', type=int, required=True)
    p.add_argument('--ndf', type=int, default=64)
    p.add_argument('--blocks', type=int, required=True)
    p.add_argument('--patches', type=int, default=256)
    p.add_argument('--nc', type=int, default=256)
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--steps', type=int, default=3)
    p.add_argument('--cpu', action='store_true', help='time on the CPU even where CUDA exists')
    a = p.parse_args()

    cuda = torch.cuda.is_available() and not a.cpu
    dev = torch.device('cuda' if cuda else 'cpu')
    name = f'cuda: {torch.cuda.get_device_name(0)}' if cuda else 'cpu (no CUDA)'
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    gen = torch.Generator().manual_seed(0)
    flips = random.Random(0)

    G = ref.Generator(ngf=a.ngf, n_blocks=a.blocks)
    D = ref.Discriminator(ndf=a.ndf)
    H = ref.ProjectionHead(G.tap_channels(), nc=a.nc)
    ref.init_informative([G, D, H], gen, gain=0.02, bias_std=0.0)
    G, D, H = G.to(dev), D.to(dev), H.to(dev)
    if a.what == 'convert':
        shape = (1, 3, a.height, a.width)
    else:
        shape = (1, 3, a.size, a.size)
    real_A = (torch.rand(*shape, generator=gen) * 2 - 1).to(dev)
    real_B = (torch.rand(*shape, generator=gen) * 2 - 1).to(dev)

    if a.what in ('forward', 'convert'):
        def run() -> float:
            sync()
            start = time.perf_counter()
            with torch.no_grad():
                G(real_A)
            sync()
            return time.perf_counter() - start
    else:
        preset = ref.CUT if a.what == 'cut' else ref.FASTCUT
        opt_G, opt_D, opt_H = ref.make_adam(G), ref.make_adam(D), ref.make_adam(H)
        s = a.size
        sizes = [(s + 6) ** 2, s ** 2, (s // 2) ** 2, (s // 4) ** 2, (s // 4) ** 2]

        def draw():
            return [ref.draw_patch_ids(hw, a.patches, gen).to(dev) for hw in sizes]

        def run() -> float:
            ids = draw()
            ids_y = draw() if preset.nce_idt else None
            flipped = preset.flip_equivariance and flips.random() < 0.5
            sync()
            start = time.perf_counter()
            ref.optimisation_step(G, D, H, opt_G, opt_D, opt_H, real_A, real_B, preset,
                                  tau=0.07, flipped=flipped, ids_nce=ids, ids_nce_y=ids_y)
            sync()
            return time.perf_counter() - start

    times = []
    for i in range(a.warmup + a.steps):
        elapsed = run()
        if i >= a.warmup:
            times.append(elapsed)
        print(f'  [pytorch {a.what} on {dev}] {i + 1}/{a.warmup + a.steps}: {elapsed:.4f} s',
              file=sys.stderr, flush=True)
    print(json.dumps({'torch': torch.__version__, 'device': name, 'what': a.what,
                      'times': times}))


if __name__ == '__main__':
    main()
