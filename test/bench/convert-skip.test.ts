import { describe, expect, it } from 'vitest';
import { skipReason } from './convert.bench';

const small = { key: 'small', ngf: 16, nBlocks: 6 };
const paper = { key: 'paper', ngf: 64, nBlocks: 9 };

describe('convert bench: rows that cannot fit are not run', () => {
  it('runs TF.js untiled on wasm where it fits the heap', () => {
    expect(skipReason('tfjs', 'wasm', small, 1, 'untiled', false)).toBeNull();
    expect(skipReason('tfjs', 'wasm', small, 4, 'tiled', false)).toBeNull();
  });

  it('leaves out TF.js untiled rows on wasm whose estimate passes the 4 GiB heap', () => {
    expect(skipReason('tfjs', 'wasm', small, 4, 'untiled', false)).toMatch(
      /TF\.js untiled small G at 4 Mpx: not run: .*over the wasm heap cap of 4 GiB/,
    );
    expect(skipReason('tfjs', 'wasm', paper, 1, 'untiled', false)).toMatch(/wasm heap/);
  });

  it('keeps the rule to wasm and to TF.js', () => {
    expect(skipReason('tfjs', 'webgpu', small, 4, 'untiled', false)).toBeNull();
    expect(skipReason('onnx', 'wasm', small, 4, 'untiled', false)).toBeNull();
  });
});
