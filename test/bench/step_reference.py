"""PyTorch side of the `step` benchmark (test/bench/step.bench.ts).

Times, on the CPU, what the TF.js engine's `trainStep` and `G.forward` do, with the model
as restated in test/fixtures/reference/cut_reference.py: one full optimisation step (G
forward, D Adam step on the detached fake, G+H Adam step through the updated D) of the CUT
or FastCUT preset, or one generator forward (batch 1, no autograd). Patch ids and the flip
are drawn before each timed step, as the TF.js side draws its StepSampling.

Prints one JSON object on the last line of stdout:
  {"torch": "1.13.0", "threads": 2, "what": "cut", "times": [s, ...], "peak_rss_mib": 812.3,
   "cpu_s": 40.2}
`times` holds the timed iterations only (the warm-up ones are left out); `cpu_s` is the
process's user + system CPU time, which the harness uses to tell other processes' load apart.
Progress goes to stderr.

Run: /usr/bin/python3 test/bench/step_reference.py --what cut --size 128 --ngf 16 ...
"""

import argparse
import json
import os
import random
import resource
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'fixtures', 'reference'))
import cut_reference as ref  # noqa: E402


def tap_sizes(size: int):
    """H*W of each tap, in ref.TAP_NAMES order (input, down1, down2, res1, res5)."""
    return [(size + 6) ** 2, size ** 2, (size // 2) ** 2, (size // 4) ** 2, (size // 4) ** 2]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument('--what', choices=['forward', 'cut', 'fastcut'], required=True)
    p.add_argument('--size', type=int, required=True)
    p.add_argument('--ngf', type=int, required=True)
    p.add_argument('--ndf', type=int, required=True)
    p.add_argument('--blocks', type=int, required=True)
    p.add_argument('--patches', type=int, default=256)
    p.add_argument('--nc', type=int, default=256)
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--steps', type=int, default=3)
    p.add_argument('--threads', type=int, default=os.cpu_count() or 1)
    p.add_argument('--seed', type=int, default=0)
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    flips = random.Random(a.seed)

    G = ref.Generator(ngf=a.ngf, n_blocks=a.blocks)
    D = ref.Discriminator(ndf=a.ndf)
    H = ref.ProjectionHead(G.tap_channels(), nc=a.nc)
    # The reference's init (xavier, gain 0.02, zero biases); it does not change the work done.
    ref.init_informative([G, D, H], gen, gain=0.02, bias_std=0.0)
    real_A = torch.rand(1, 3, a.size, a.size, generator=gen) * 2 - 1
    real_B = torch.rand(1, 3, a.size, a.size, generator=gen) * 2 - 1

    if a.what == 'forward':
        def run() -> float:
            start = time.perf_counter()
            with torch.no_grad():
                G(real_A)
            return time.perf_counter() - start
    else:
        preset = ref.CUT if a.what == 'cut' else ref.FASTCUT
        opt_G, opt_D, opt_H = ref.make_adam(G), ref.make_adam(D), ref.make_adam(H)

        def draw():
            return [ref.draw_patch_ids(hw, a.patches, gen) for hw in tap_sizes(a.size)]

        def run() -> float:
            ids = draw()
            ids_y = draw() if preset.nce_idt else None
            flipped = preset.flip_equivariance and flips.random() < 0.5
            start = time.perf_counter()
            ref.optimisation_step(G, D, H, opt_G, opt_D, opt_H, real_A, real_B, preset,
                                  tau=0.07, flipped=flipped, ids_nce=ids, ids_nce_y=ids_y)
            return time.perf_counter() - start

    times = []
    for i in range(a.warmup + a.steps):
        elapsed = run()
        if i >= a.warmup:
            times.append(elapsed)
        print(f'  [pytorch {a.what}] iteration {i + 1}/{a.warmup + a.steps}: {elapsed:.3f} s'
              + (' (warm-up)' if i < a.warmup else ''), file=sys.stderr, flush=True)

    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({'torch': torch.__version__, 'threads': torch.get_num_threads(),
                      'what': a.what, 'times': times,
                      'peak_rss_mib': usage.ru_maxrss / 1024,  # ru_maxrss is KiB on Linux
                      'cpu_s': usage.ru_utime + usage.ru_stime}))


if __name__ == '__main__':
    main()
