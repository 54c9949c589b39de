// The wasm training kernels are rewrites (im2col, col2im, convs over reshuffled tensors) whose
// index arithmetic is easy to get subtly wrong, so every case is checked against the `cpu`
// backend's straightforward kernels on the same data, through the gradients the model takes.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../../main/engine/rng';
import { registerWasmTrainingKernels } from '../../../main/engine/wasm-kernels';

type Shape4 = [number, number, number, number];
type Pad = 'same' | 'valid' | number | [[0, 0], [number, number], [number, number], [0, 0]];

/** Relative to the largest reference value: float32 sums in another order differ by ~1e-6. */
const TOLERANCE = 1e-4;

beforeAll(async () => {
  expect(await tf.setBackend('wasm')).toBe(true);
  registerWasmTrainingKernels();
});

// Random rather than patterned data: with sinusoidal inputs the true filter gradients cancelled
// to ~1e-4 of their terms, where float32 rounding alone exceeds any sensible tolerance.
function values(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.uniform(-1, 1));
}

function tensor4(shape: Shape4, seed: number): tf.Tensor4D {
  return tf.tensor4d(values(tf.util.sizeFromShape(shape), seed), shape);
}

/** Runs f on cpu, then on wasm (fresh tensors each time), and returns both flat results. */
async function onBoth(
  f: () => tf.Tensor[],
): Promise<{ cpu: Float32Array[]; wasm: Float32Array[] }> {
  const run = async (backend: string): Promise<Float32Array[]> => {
    await tf.setBackend(backend);
    const outs = tf.tidy(f);
    const data = outs.map((t) => t.dataSync() as Float32Array);
    tf.dispose(outs);
    return data;
  };
  const cpu = await run('cpu');
  const wasm = await run('wasm');
  return { cpu, wasm };
}

function expectClose(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length);
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]));
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  }
  expect(worst).toBeLessThanOrEqual(TOLERANCE * Math.max(scale, 1e-6));
}

interface ConvCase {
  batch: number;
  size: [number, number];
  inC: number;
  outC: number;
  k: number;
  stride: number;
  pad: Pad;
}

/** [dx, dW] of a conv2d loss whose upstream gradient is not constant (a random weighting). */
function convGrads(c: ConvCase, seed: number): () => tf.Tensor[] {
  return () => {
    const x = tensor4([c.batch, ...c.size, c.inC], seed);
    const w = tensor4([c.k, c.k, c.inC, c.outC], seed + 1);
    const y = tf.conv2d(x, w, c.stride, c.pad);
    const weight = tensor4(y.shape, seed + 2);
    const loss = (a: tf.Tensor, b: tf.Tensor): tf.Scalar =>
      tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad), weight));
    return tf.grads(loss)([x, w]);
  };
}

/** Pads that make every output size an integer: TF.js's conv2d gradient has no rounding mode. */
function fits(c: ConvCase): boolean {
  const [h, w] = c.size;
  if (c.pad === 'same') return true;
  if (c.pad === 'valid') return h >= c.k && w >= c.k;
  const [rows, cols] = typeof c.pad === 'number' ? [2 * c.pad, 2 * c.pad] : [c.pad[1], c.pad[2]];
  const spanH = h + (typeof rows === 'number' ? rows : rows[0] + rows[1]) - c.k;
  const spanW = w + (typeof cols === 'number' ? cols : cols[0] + cols[1]) - c.k;
  return spanH >= 0 && spanW >= 0 && spanH % c.stride === 0 && spanW % c.stride === 0;
}

/**
 * Every (stride, kernel, padding) combination, with sizes, channel pairs and batch sizes cycled
 * through them so that each value meets many others without the full product's run time.
 * Channel pairs straddle the filter gradient's switch between its conv and im2col forms (8).
 */
function convCases(): ConvCase[] {
  const sizes: [number, number][] = [
    [7, 9],
    [15, 11],
    [8, 8],
  ];
  const channels: [number, number][] = [
    [1, 8],
    [3, 13],
    [8, 1],
    [13, 3],
  ];
  const pads: Pad[] = [
    'same',
    'valid',
    1,
    [
      [0, 0],
      [2, 0],
      [1, 3],
      [0, 0],
    ],
  ];
  const cases: ConvCase[] = [];
  let i = 0;
  for (const stride of [1, 2])
    for (const k of [1, 3, 4, 7])
      for (const pad of pads)
        for (let variant = 0; variant < 2; variant++, i++) {
          for (let tries = 0; tries < sizes.length; tries++) {
            const [inC, outC] = channels[(i + variant) % channels.length];
            const size = sizes[(i + tries) % sizes.length];
            const c = { batch: variant === 0 ? 1 : 3, size, inC, outC, k, stride, pad };
            if (fits(c)) {
              cases.push(c);
              break;
            }
          }
        }
  return cases;
}

function label(c: ConvCase): string {
  const pad = typeof c.pad === 'object' ? JSON.stringify(c.pad.slice(1, 3)) : c.pad;
  return `[${c.batch},${c.size},${c.inC}]→${c.outC} ${c.k}×${c.k} s${c.stride} pad ${pad}`;
}

describe('Conv2DBackpropInput and Conv2DBackpropFilter on wasm', () => {
  const cases = convCases();

  it('covers the whole grid of strides, kernels and paddings', () => {
    expect(cases.length).toBe(2 * 4 * 4 * 2);
  });

  it.each(cases.map((c, i) => [label(c), c, i] as const))(
    'match cpu through tf.grads: %s',
    async (_, c, i) => {
      const { cpu, wasm } = await onBoth(convGrads(c, 100 + i));
      expectClose(wasm[0], cpu[0]); // dx
      expectClose(wasm[1], cpu[1]); // dW
    },
  );

  // Big enough for the im2col and col2im paths to split their work into several blocks.
  it('match cpu on a layer large enough to be processed in blocks', async () => {
    const c: ConvCase = { batch: 1, size: [40, 40], inC: 64, outC: 8, k: 7, stride: 2, pad: 3 };
    const { cpu, wasm } = await onBoth(convGrads(c, 7));
    expectClose(wasm[0], cpu[0]);
    expectClose(wasm[1], cpu[1]);
  });

  // conv2dTranspose runs Conv2DBackpropInput forward and Conv2DBackpropFilter with x and dy
  // swapped in its gradient: the upsampling path of a generator.
  it('match cpu through conv2dTranspose and its gradients', async () => {
    const { cpu, wasm } = await onBoth(() => {
      const x = tensor4([2, 5, 6, 8], 11);
      const w = tensor4([3, 3, 4, 8], 12);
      const weight = tensor4([2, 10, 12, 4], 13);
      const up = (a: tf.Tensor, b: tf.Tensor): tf.Tensor4D =>
        tf.conv2dTranspose(a as tf.Tensor4D, b as tf.Tensor4D, [2, 10, 12, 4], 2, 'same');
      const loss = (a: tf.Tensor, b: tf.Tensor): tf.Scalar => tf.sum(tf.mul(up(a, b), weight));
      return [up(x, w), ...tf.grads(loss)([x, w])];
    });
    for (let k = 0; k < 3; k++) expectClose(wasm[k], cpu[k]);
  });

  it('rejects NCHW data with a clear error', () => {
    const x = tensor4([1, 3, 5, 5], 1);
    const dy = tensor4([1, 4, 5, 5], 2);
    const attrs = { strides: 1, pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 3, 4] };
    expect(() => tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, attrs)).toThrow(
      /only NHWC/,
    );
    tf.dispose([x, dy]);
  });
});

describe('UnsortedSegmentSum on wasm', () => {
  it('matches cpu through the gradient of gather with repeated indices', async () => {
    const { cpu, wasm } = await onBoth(() => {
      const table = tf.tensor2d(values(6 * 5, 21), [6, 5]);
      const weight = tf.tensor2d(values(7 * 5, 22), [7, 5]);
      const rows = tf.tensor1d([0, 2, 2, 5, 0, 2, 3], 'int32');
      const cols = tf.tensor1d([4, 4, 1], 'int32');
      const byRows = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, rows), weight)));
      const byCols = tf.grad((t: tf.Tensor) => tf.sum(tf.square(tf.gather(t, cols, 1))));
      return [byRows(table), byCols(table)];
    });
    expectClose(wasm[0], cpu[0]);
    expectClose(wasm[1], cpu[1]);
  });

  // A freshly allocated backend buffer holds stale data, and ids outside [0, n) are dropped.
  it('matches cpu on empty segments and out-of-range ids, repeatedly', async () => {
    const { cpu, wasm } = await onBoth(() =>
      [0, 1, 2].map(() =>
        tf.unsortedSegmentSum(
          tf.tensor2d(values(6 * 3, 31), [6, 3]),
          tf.tensor1d([3, -1, 0, 3, 9, 0], 'int32'),
          5,
        ),
      ),
    );
    for (let k = 0; k < 3; k++) expectClose(wasm[k], cpu[k]);
  });
});

describe('BatchMatMul with transposed operands', () => {
  // The replacement transposes explicitly; every flag pair must still
  // give what the cpu backend gives, and the gradients (which use the flags) too.
  it.each([
    [false, false, [2, 5, 7], [2, 7, 3]],
    [false, true, [2, 5, 7], [2, 3, 7]],
    [true, false, [2, 7, 5], [2, 7, 3]],
    [true, true, [3, 7, 5], [3, 3, 7]],
    [false, true, [33, 17], [9, 17]],
    // Across the 32-element tiles of the explicit transpose, in both axes and batched.
    [true, true, [2, 70, 45], [2, 33, 70]],
  ])('transposeA %s, transposeB %s: %j · %j', async (ta, tb, sa, sb) => {
    const { cpu, wasm } = await onBoth(() => {
      const a = tf.tensor(values(tf.util.sizeFromShape(sa), 1), sa);
      const b = tf.tensor(values(tf.util.sizeFromShape(sb), 2), sb);
      const f = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(tf.matMul(x, y, ta, tb)));
      const [ga, gb] = tf.grads(f)([a, b]);
      return [tf.matMul(a, b, ta, tb), ga, gb];
    });
    for (let k = 0; k < 3; k++) expectClose(wasm[k], cpu[k]);
  });
});

describe('Reverse on wasm', () => {
  // A copy, so equal to cpu exactly: every axis set of a rank-4 map, the runs long (C ≥ 32,
  // copied with set) and short (C = 3, or the last axis reversed: element by element).
  const axisSets = [[0], [1], [2], [3], [1, 2], [0, 3], [0, 1, 2, 3], []];
  it.each([
    [[2, 5, 7, 3], axisSets],
    [[1, 4, 6, 40], axisSets],
  ] as [Shape4, number[][]][])('%j along every axis set', async (shape, sets) => {
    const { cpu, wasm } = await onBoth(() => {
      const x = tensor4(shape, 5);
      return sets.map((dims) => tf.reverse(x, dims));
    });
    for (let k = 0; k < sets.length; k++) expect(wasm[k]).toEqual(cpu[k]);
  });

  it('reverses int32 and bool tensors, and passes scalars through', async () => {
    const { cpu, wasm } = await onBoth(() => {
      const ints = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3], 'int32');
      const bools = tf.tensor1d([1, 0, 0], 'bool');
      return [
        tf.cast(tf.reverse(ints, [1]), 'float32'),
        tf.cast(tf.reverse(bools), 'float32'),
        tf.reverse(tf.scalar(4)),
      ];
    });
    // (The cpu backend's cast may keep an Int32Array: compare the numbers.)
    for (let k = 0; k < 3; k++) expect(Array.from(wasm[k])).toEqual(Array.from(cpu[k]));
    expect(Array.from(wasm[0])).toEqual([3, 2, 1, 6, 5, 4]);
  });

  it('carries the gradient of reverse (itself a reverse)', async () => {
    const { cpu, wasm } = await onBoth(() => {
      const x = tensor4([1, 6, 5, 4], 8);
      const w = tensor4([1, 6, 5, 4], 9);
      const [g] = tf.grads((a: tf.Tensor) => tf.sum(tf.mul(tf.reverse(a, [1, 2]), w)))([x]);
      return [g];
    });
    expect(wasm[0]).toEqual(cpu[0]);
  });
});

describe('registerWasmTrainingKernels', () => {
  it('is idempotent and reports the kernels it serves', () => {
    const names = [
      tf.Conv2DBackpropInput,
      tf.Conv2DBackpropFilter,
      tf.UnsortedSegmentSum,
      tf.BatchMatMul,
      tf.Reverse,
    ];
    const before = names.map((n) => tf.getKernel(n, 'wasm')?.kernelFunc);
    expect(registerWasmTrainingKernels()).toEqual(names);
    expect(names.map((n) => tf.getKernel(n, 'wasm')?.kernelFunc)).toEqual(before);
  });
});

describe('memory', () => {
  // One pass through every path: conv and im2col filter gradients at batch 1 and 2, the
  // stride-1 conv and the col2im input gradients, blocked work, and the segment sum.
  function step(): void {
    tf.tidy(() => {
      convGrads({ batch: 2, size: [9, 7], inC: 3, outC: 3, k: 3, stride: 2, pad: 'same' }, 1)();
      convGrads({ batch: 2, size: [9, 7], inC: 8, outC: 8, k: 3, stride: 1, pad: 1 }, 2)();
      convGrads({ batch: 1, size: [9, 7], inC: 8, outC: 3, k: 3, stride: 1, pad: 'same' }, 3)();
      convGrads({ batch: 1, size: [40, 40], inC: 64, outC: 8, k: 7, stride: 2, pad: 3 }, 4)();
      const t = tf.tensor2d(values(12, 5), [4, 3]);
      tf.grad((a: tf.Tensor) => tf.sum(tf.gather(a, [1, 1, 3])))(t);
      tf.reverse(tf.tensor3d(values(30, 6), [2, 5, 3]), [0, 1]);
    });
  }

  // numTensors sees only engine tensors; numDataIds also sees the kernels' own intermediates.
  it('leaves tensor and buffer counts where it found them', async () => {
    await tf.setBackend('wasm');
    step();
    const tensors = tf.memory().numTensors;
    const buffers = tf.engine().backend.numDataIds();
    step();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.engine().backend.numDataIds()).toBe(buffers);
  });

  // A leaked buffer or XNNPACK operator (each holds packed weights) would grow the heap.
  it('does not grow the wasm heap over repeated steps', async () => {
    await tf.setBackend('wasm');
    for (let i = 0; i < 3; i++) step();
    const heap = heapBytes();
    for (let i = 0; i < 10; i++) step();
    expect(heapBytes()).toBe(heap);
  });
});

/** Size of the wasm module's linear memory (its typings leave the Emscripten heap untyped). */
function heapBytes(): number {
  const { wasm } = tf.backend() as BackendWasm;
  return (wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8.buffer.byteLength;
}

// The ops a ResNet generator, a PatchGAN discriminator and a PatchNCE loss differentiate through:
// each gradient must exist on wasm and agree with cpu. (StridedSlice has no gradient in TF.js on
// any backend, and where's condition must not depend on the differentiated input.)
describe('gradients a training step takes, on wasm', () => {
  const x = (): tf.Tensor4D => tensor4([2, 6, 5, 3], 41);
  const m = (): tf.Tensor2D => tf.tensor2d(values(4 * 6, 42), [4, 6]);
  const eps = 1e-5;
  const ops: [string, () => tf.Tensor, (t: tf.Tensor) => tf.Tensor][] = [
    [
      'conv2d strided, explicit pad',
      x,
      (t) => tf.conv2d(t as tf.Tensor4D, tensor4([4, 4, 3, 5], 43), 2, 1),
    ],
    [
      'mirrorPad reflect',
      x,
      (t) =>
        tf.mirrorPad(
          t,
          [
            [0, 0],
            [2, 2],
            [1, 1],
            [0, 0],
          ],
          'reflect',
        ),
    ],
    [
      'pad',
      x,
      (t) =>
        tf.pad(t, [
          [0, 0],
          [1, 2],
          [2, 1],
          [0, 0],
        ]),
    ],
    ['relu', x, (t) => tf.relu(t)],
    ['leakyRelu', x, (t) => tf.leakyRelu(t, 0.2)],
    ['tanh', x, (t) => tf.tanh(t)],
    [
      'moments (instance norm)',
      x,
      (t) => {
        const { mean, variance } = tf.moments(t, [1, 2], true);
        return tf.mul(tf.sub(t, mean), tf.rsqrt(tf.add(variance, eps)));
      },
    ],
    ['mean', x, (t) => tf.mean(t, [1, 2])],
    ['sqrt', x, (t) => tf.sqrt(tf.add(tf.square(t), eps))],
    ['matMul', m, (t) => tf.matMul(t, tf.transpose(t))],
    ['matMul transposeA', m, (t) => tf.matMul(t, t, true, false)],
    ['matMul transposeB', m, (t) => tf.matMul(t, t, false, true)],
    ['matMul both transposed', m, (t) => tf.matMul(tf.transpose(t), t, true, true)],
    ['gather', m, (t) => tf.gather(t, [3, 0, 3])],
    ['logSoftmax', m, (t) => tf.logSoftmax(t)],
    [
      'softmax cross entropy',
      m,
      (t) => tf.losses.softmaxCrossEntropy(tf.oneHot([0, 5, 2, 1], 6), t),
    ],
    ['reverse', x, (t) => tf.reverse(t, [1, 2])],
    ['concat', x, (t) => tf.concat([t, tf.square(t)], 3)],
    ['slice', x, (t) => tf.slice(t, [0, 1, 1, 0], [2, 4, 3, 2])],
    ['reshape', x, (t) => tf.reshape(t, [2, 30, 3])],
    ['transpose', x, (t) => tf.transpose(t, [0, 3, 1, 2])],
    ['squaredDifference', x, (t) => tf.squaredDifference(t, tf.reverse(t, [2]))],
    ['sum', x, (t) => tf.square(tf.sum(t, 3))],
    ['stack / unstack', x, (t) => tf.stack(tf.unstack(t).reverse())],
    ['where', x, (t) => tf.where(tf.greater(tensor4([2, 6, 5, 3], 44), 0), t, tf.mul(t, 0.1))],
    ['maximum', x, (t) => tf.maximum(t, tf.square(t))],
    ['div', x, (t) => tf.div(t, tf.add(tf.square(t), 1))],
  ];

  it.each(ops)('%s', async (_, input, f) => {
    const { cpu, wasm } = await onBoth(() => {
      const t = input();
      // A random weighting makes the upstream gradient of every output element different.
      const loss = (a: tf.Tensor): tf.Scalar => {
        const y = f(a);
        return tf.sum(tf.mul(y, tf.tensor(values(y.size, 45), y.shape)));
      };
      return [tf.grad(loss)(t)];
    });
    expectClose(wasm[0], cpu[0]);
  });
});
