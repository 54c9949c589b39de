"""PyTorch side of the `convert` benchmark (test/bench/convert.bench.ts).

Times one untiled generator forward (batch 1, no autograd) on the CPU at a given image size,
with the generator of test/fixtures/reference/cut_reference.py (random init: speed does not
depend on the weights). The input is reflect-padded to multiples of 4, as translateImage does.
One untimed forward on a 64x64 image first sets up the kernels.

Prints one JSON object on the last line of stdout:
  {"torch": "1.13.0", "threads": 2, "seconds": 12.3, "peak_rss_mib": 2345.6, "cpu_s": 24.1}

Run: /usr/bin/python3 test/bench/convert_reference.py --width 1333 --height 750 --ngf 16 --blocks 6
"""

import argparse
import json
import os
import resource
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'fixtures', 'reference'))
import cut_reference as ref  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument('--width', type=int, required=True)
    p.add_argument('--height', type=int, required=True)
    p.add_argument('--ngf', type=int, required=True)
    p.add_argument('--blocks', type=int, required=True)
    p.add_argument('--threads', type=int, default=os.cpu_count() or 1)
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    G = ref.Generator(ngf=a.ngf, n_blocks=a.blocks).eval()
    h4 = (a.height + 3) // 4 * 4
    w4 = (a.width + 3) // 4 * 4
    with torch.no_grad():
        G(torch.rand(1, 3, 64, 64) * 2 - 1)
        x = torch.rand(1, 3, a.height, a.width) * 2 - 1
        start = time.perf_counter()
        if (h4, w4) != (a.height, a.width):
            x = torch.nn.functional.pad(x, (0, w4 - a.width, 0, h4 - a.height), mode='reflect')
        y = G(x)[:, :, :a.height, :a.width].contiguous()
        seconds = time.perf_counter() - start
        del y
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({
        'torch': torch.__version__,
        'threads': torch.get_num_threads(),
        'seconds': seconds,
        'peak_rss_mib': ru.ru_maxrss / 1024,
        'cpu_s': ru.ru_utime + ru.ru_stime,
    }))


if __name__ == '__main__':
    main()
