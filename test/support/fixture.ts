/**
 * Reads the golden fixtures written by test/fixtures/reference/make_fixtures.py (format
 * `patchwork-fixture-1`: a JSON manifest and a float32 blob in torch layouts) and converts
 * torch layouts to the engine's (NCHW → NHWC, OIHW → HWIO, [out, in] → [in, out]).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';

interface Manifest {
  format: string;
  config: Record<string, unknown>;
  tensors: Record<string, { shape: number[]; offset: number; length: number }>;
  scalars: Record<string, number>;
  ids: Record<string, number[]>;
}

export class Fixture {
  private constructor(
    readonly manifest: Manifest,
    private readonly data: Float32Array,
  ) {}

  /** `folder`: the folder under test/fixtures that holds the fixture. */
  static load(name: string, folder = 'reference'): Fixture {
    return Fixture.fromDir(fileURLToPath(new URL(`../fixtures/${folder}/`, import.meta.url)), name);
  }

  /** A fixture from any folder (the benchmark bundle carries its own copy). */
  static fromDir(dir: string, name: string): Fixture {
    const manifest = JSON.parse(readFileSync(path.join(dir, `${name}.json`), 'utf8')) as Manifest;
    if (manifest.format !== 'patchwork-fixture-1')
      throw new Error(`unknown fixture format ${manifest.format}`);
    const buf = readFileSync(path.join(dir, `${name}.bin`));
    // Node's Buffer may be a slice of a shared pool: copy out exactly this file's bytes.
    const data = new Float32Array(
      buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength),
    );
    return new Fixture(manifest, data);
  }

  get config(): Record<string, unknown> {
    return this.manifest.config;
  }

  has(name: string): boolean {
    return name in this.manifest.tensors;
  }

  names(prefix: string): string[] {
    return Object.keys(this.manifest.tensors).filter((n) => n.startsWith(prefix));
  }

  /** A tensor exactly as stored (torch layout). */
  raw(name: string): tf.Tensor {
    const t = this.manifest.tensors[name];
    if (!t) throw new Error(`fixture has no tensor ${name}`);
    return tf.tensor(this.data.subarray(t.offset, t.offset + t.length), t.shape);
  }

  /** An image or feature map, NCHW → NHWC. */
  nhwc(name: string): tf.Tensor4D {
    return tf.tidy(() => tf.transpose(this.raw(name), [0, 2, 3, 1]) as tf.Tensor4D);
  }

  /** A parameter in the engine's layout. */
  param(name: string): tf.Tensor {
    return tf.tidy(() => torchToEngineLayout(this.raw(name)));
  }

  scalar(name: string): number {
    const v = this.manifest.scalars[name];
    if (v === undefined) throw new Error(`fixture has no scalar ${name}`);
    return v;
  }

  ids(name: string): Int32Array {
    const v = this.manifest.ids[name];
    if (!v) throw new Error(`fixture has no ids ${name}`);
    return Int32Array.from(v);
  }
}

/** Conv [out, in, kh, kw] → [kh, kw, in, out]; linear [out, in] → [in, out]; bias as is. */
export function torchToEngineLayout(t: tf.Tensor): tf.Tensor {
  if (t.rank === 4) return tf.transpose(t, [2, 3, 1, 0]);
  if (t.rank === 2) return tf.transpose(t);
  return t.clone();
}

/**
 * Largest error, relative where values are large. `element`: |a − b| / max(1, |b|) per
 * element. `tensor`: |a − b| / max(1, max|b|), relative to the tensor's own scale — right
 * for gradients, whose small entries are sums of large, cancelling terms and carry the
 * rounding of those terms, not of their own size.
 */
export function relError(
  actual: tf.Tensor,
  expected: tf.Tensor,
  scale: 'element' | 'tensor' = 'element',
): number {
  if (!tf.util.arraysEqual(actual.shape, expected.shape)) {
    throw new Error(`shape mismatch: [${actual.shape}] vs [${expected.shape}]`);
  }
  return tf.tidy(() => {
    const denom = scale === 'element' ? tf.abs(expected) : tf.max(tf.abs(expected));
    return tf.max(tf.div(tf.abs(tf.sub(actual, expected)), tf.maximum(denom, 1))).dataSync()[0];
  });
}
