/**
 * Timings of the wasm training kernels (main/engine/wasm-kernels.ts) against what they replace:
 * the wasm backend's built-in Conv2DBackpropInput loop and, for the filter gradient it lacks, a
 * forward XNNPACK Conv2D of the same size (the same multiply-adds, so the floor to aim at).
 * (The `cpu` backend's filter gradient is too slow to include: minutes for the first case.)
 *
 * Run: npx tsx test/bench/wasm-kernels.bench.ts [repeats]
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels } from '../../main/engine/wasm-kernels';

interface Case {
  label: string;
  x: [number, number, number, number];
  outC: number;
  k: number;
  stride: number;
}

const CASES: Case[] = [
  { label: '[1,64,64,128]→128 3×3 s1', x: [1, 64, 64, 128], outC: 128, k: 3, stride: 1 },
  { label: '[1,64,64,128]→128 3×3 s2', x: [1, 64, 64, 128], outC: 128, k: 3, stride: 2 },
  { label: '[1,128,128,64]→128 3×3 s2', x: [1, 128, 128, 64], outC: 128, k: 3, stride: 2 },
  { label: '[1,262,262,3]→64 7×7 s1', x: [1, 262, 262, 3], outC: 64, k: 7, stride: 1 },
  { label: '[1,262,262,64]→3 7×7 s1', x: [1, 262, 262, 64], outC: 3, k: 7, stride: 1 },
  { label: '[1,33,33,512]→1 4×4 s1', x: [1, 33, 33, 512], outC: 1, k: 4, stride: 1 },
  { label: '[4,32,32,64]→64 4×4 s2', x: [4, 32, 32, 64], outC: 64, k: 4, stride: 2 },
];

const repeats = Number(process.argv[2] ?? 5);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Median wall time of `run` in ms; the first call (operator creation, heap growth) is not counted. */
function time(run: () => tf.Tensor): number {
  run().dispose();
  const samples: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    const out = run();
    out.dataSync();
    samples.push(performance.now() - start);
    out.dispose();
  }
  return median(samples);
}

function runKernel(name: string, inputs: tf.NamedTensorMap, attrs: object): tf.Tensor {
  return tf.engine().runKernel(name, inputs, attrs as tf.NamedAttrMap) as tf.Tensor;
}

function benchCase(c: Case, builtinInput: tf.KernelConfig): string {
  const [n, h, w, ci] = c.x;
  const x = tf.randomNormal(c.x);
  const filter = tf.randomNormal([c.k, c.k, ci, c.outC]);
  const dy = tf.conv2d(x as tf.Tensor4D, filter as tf.Tensor4D, c.stride, 'same');
  const common = { strides: c.stride, pad: 'same', dataFormat: 'NHWC' };
  const inputAttrs = { ...common, inputShape: [n, h, w, ci] };
  const filterAttrs = { ...common, filterShape: filter.shape };

  const ours = time(() => runKernel(tf.Conv2DBackpropInput, { dy, filter }, inputAttrs));
  tf.unregisterKernel(tf.Conv2DBackpropInput, 'wasm');
  tf.registerKernel(builtinInput);
  const builtin = time(() => runKernel(tf.Conv2DBackpropInput, { dy, filter }, inputAttrs));
  tf.unregisterKernel(tf.Conv2DBackpropInput, 'wasm');
  registerWasmTrainingKernels();

  const filterGrad = time(() => runKernel(tf.Conv2DBackpropFilter, { x, dy }, filterAttrs));
  const forward = time(() => tf.conv2d(x as tf.Tensor4D, filter as tf.Tensor4D, c.stride, 'same'));
  tf.dispose([x, filter, dy]);
  return (
    `${c.label.padEnd(30)} dx: built-in ${fmt(builtin)}, ours ${fmt(ours)} ` +
    `(${(builtin / ours).toFixed(1)}×) | dW: ours ${fmt(filterGrad)} | fwd conv ${fmt(forward)}`
  );
}

function fmt(ms: number): string {
  return `${ms.toFixed(1)} ms`;
}

async function main(): Promise<void> {
  await tf.setBackend('wasm');
  const builtinInput = tf.getKernel(tf.Conv2DBackpropInput, 'wasm');
  if (builtinInput === undefined) throw new Error('wasm has no built-in Conv2DBackpropInput');
  registerWasmTrainingKernels();
  console.log(`wasm backend, median of ${repeats} runs`);
  for (const c of CASES) console.log(benchCase(c, builtinInput));
}

await main();
