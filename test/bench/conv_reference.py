"""PyTorch side of the `conv` benchmark (test/bench/conv.bench.ts).

Times one convolution of the paper's networks three ways on the CPU, batch 1, no padding
(the engine pads before it convolves): the forward convolution, the input gradient and the
filter gradient (aten.convolution_backward with one output each), at a given thread count.

Prints one JSON object on the last line of stdout:
  {"torch": "1.13.0", "threads": 2, "rows": [{"label": ..., "forward": [s, ...],
   "input_grad": [...], "filter_grad": [...]}], "cpu_s": 12.3}

Run: /usr/bin/python3 test/bench/conv_reference.py --threads 2 --repeats 5 --cases '[...]'
"""

import argparse
import json
import resource
import time

import torch


def timed(fn, repeats):
    fn()  # operator set-up, allocations
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument('--threads', type=int, required=True)
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--cases', required=True, help='JSON list of {label, x: NHWC, outC, k}')
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    rows = []
    with torch.no_grad():
        for c in json.loads(a.cases):
            n, h, w, cin = c['x']
            k, cout = c['k'], c['outC']
            x = torch.randn(n, cin, h, w)
            weight = torch.randn(cout, cin, k, k)
            dy = torch.randn(n, cout, h - k + 1, w - k + 1)

            def backward(mask):
                return torch.ops.aten.convolution_backward(
                    dy, x, weight, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1, mask)

            rows.append({
                'label': c['label'],
                'forward': timed(lambda: torch.nn.functional.conv2d(x, weight), a.repeats),
                'input_grad': timed(lambda: backward([True, False, False]), a.repeats),
                'filter_grad': timed(lambda: backward([False, True, False]), a.repeats),
            })
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({
        'torch': torch.__version__,
        'threads': torch.get_num_threads(),
        'rows': rows,
        'cpu_s': usage.ru_utime + usage.ru_stime,
    }))


if __name__ == '__main__':
    main()
