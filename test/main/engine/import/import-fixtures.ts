// Reads test/fixtures/import (made by make_import_fixtures.py): the .pth files and the
// PyTorch outputs on a few inputs (NCHW float32), which imported generators must reproduce.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const FIXTURES = fileURLToPath(new URL('../../../fixtures/import/', import.meta.url));

interface Manifest {
  format: string;
  models: Record<string, { architecture: string; ngf: number; nBlocks: number; saved: string }>;
  tensors: Record<string, { shape: number[]; offset: number; length: number }>;
}

export const manifest = JSON.parse(
  readFileSync(`${FIXTURES}import-fixtures.json`, 'utf8'),
) as Manifest;
const buf = readFileSync(`${FIXTURES}import-fixtures.bin`);
const data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));

export const MODELS = Object.keys(manifest.models);
export const INPUTS = ['a', 'b', 'odd'];

export function pthPath(model: string): string {
  return `${FIXTURES}${model}.pth`;
}

export function pthBytes(name: string): Buffer {
  return readFileSync(`${FIXTURES}${name}.pth`);
}

/** An NCHW [1, 3, H, W] fixture tensor as HWC floats, with its size. */
export function image(name: string): { data: Float32Array; width: number; height: number } {
  const t = manifest.tensors[name];
  if (!t) throw new Error(`no fixture tensor ${name}`);
  const [, c, h, w] = t.shape;
  const src = data.subarray(t.offset, t.offset + t.length);
  const out = new Float32Array(h * w * c);
  for (let ch = 0; ch < c; ch++) {
    for (let i = 0; i < h * w; i++) out[i * c + ch] = src[ch * h * w + i];
  }
  return { data: out, width: w, height: h };
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`lengths ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
