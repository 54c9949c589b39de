// The halo arithmetic is where a seam would come from, so each op's window rule is checked by
// brute force against the taps its formula reads, and the grid against exact coverage.
import { describe, expect, it } from 'vitest';
import {
  backChain,
  haloFloorTile,
  largestTile,
  needSpan,
  placeSpan,
  roundTile,
  tileGrid,
  type LocalOp,
  type Span,
} from '../../../../main/engine/infer/tiling';

const conv = (size: number, pad: 'reflect' | 'zero'): LocalOp => ({
  kind: 'conv',
  layer: 'c',
  size,
  pad,
  outChannels: 1,
});

/** Input rows an op's output row reads before any border handling (may lie outside [0, n)). */
function taps(op: LocalOp, j: number): number[] {
  switch (op.kind) {
    case 'conv': {
      const p = (op.size - 1) / 2;
      return Array.from({ length: op.size }, (_, k) => j - p + k);
    }
    case 'blurDown':
    case 'convDown':
      return [2 * j - 1, 2 * j, 2 * j + 1];
    case 'convUp':
      // out[o] = Σ w[k]·x[i] over 2i + k − 1 = o: one input for even o, two for odd.
      return j % 2 === 0 ? [j / 2] : [(j - 1) / 2, (j + 1) / 2];
    case 'upsample':
      return j % 2 === 0 ? [j / 2 - 1, j / 2] : [(j - 1) / 2, (j + 1) / 2];
    case 'tanh':
      return [j];
  }
}

function outLength(op: LocalOp, n: number): number {
  if (op.kind === 'blurDown' || op.kind === 'convDown') return n / 2;
  return op.kind === 'upsample' || op.kind === 'convUp' ? 2 * n : n;
}

function allSpans(n: number): Span[] {
  const spans: Span[] = [];
  for (let a = 0; a < n; a++) for (let b = a + 1; b <= n; b++) spans.push({ start: a, end: b });
  return spans;
}

describe('needSpan and placeSpan', () => {
  const ops: [string, LocalOp][] = [
    ['conv7 reflect', conv(7, 'reflect')],
    ['conv3 zero', conv(3, 'zero')],
    ['blur-down', { kind: 'blurDown' }],
    ['upsample', { kind: 'upsample' }],
    ['conv3 stride 2 (CycleGAN)', { kind: 'convDown', layer: 'd', outChannels: 1 }],
    ['transposed conv3 stride 2 (CycleGAN)', { kind: 'convUp', layer: 'u', outChannels: 1 }],
  ];

  it.each(ops)('%s: the window holds every tap inside the map, for every output span', (_, op) => {
    for (const n of [8, 10, 12]) {
      for (const out of allSpans(outLength(op, n))) {
        const need = needSpan(op, out, n);
        expect(need.start).toBeGreaterThanOrEqual(0);
        expect(need.end).toBeLessThanOrEqual(n);
        for (let j = out.start; j < out.end; j++) {
          for (const t of taps(op, j).filter((t) => t >= 0 && t < n)) {
            expect(t).toBeGreaterThanOrEqual(need.start);
            expect(t).toBeLessThan(need.end);
          }
        }
      }
    }
  });

  it.each(ops)('%s: padding and dropped samples happen only where they should', (_, op) => {
    for (const n of [8, 12]) {
      for (const out of allSpans(outLength(op, n))) {
        const need = needSpan(op, out, n);
        const place = placeSpan(op, need, out);
        // A conv pads a side only where its window had to stop at the image border.
        if (place.before > 0) expect(need.start).toBe(0);
        if (place.after > 0) expect(need.end).toBe(n);
        if (op.kind === 'blurDown') {
          // blur-down's window starts on the stride grid; away from the border, the first
          // result (which saw the layer's reflect pad) is dropped.
          expect(need.start % 2).toBe(0);
          expect(place.offset).toBe(need.start === 0 ? out.start : out.start - need.start / 2);
          if (need.start > 0) expect(place.offset).toBeGreaterThanOrEqual(1);
        }
        if (op.kind === 'convDown') {
          // A stride-2 'valid' conv over the window, zero-padded where it met row 0, gives out.
          expect((need.end - need.start + place.before - 3) / 2 + 1).toBe(out.end - out.start);
          expect(place.before).toBe(need.start === 0 && out.start === 0 ? 1 : 0);
        }
        if (op.kind === 'convUp') {
          // The window's results start at 2·start; out lies inside them.
          expect(place.offset).toBeGreaterThanOrEqual(0);
          expect(place.offset + out.end - out.start).toBeLessThanOrEqual(
            2 * (need.end - need.start),
          );
        }
        if (op.kind === 'upsample') {
          // The first and last results of an interior window saw the replicate pad.
          const first = 2 * need.start;
          const last = 2 * need.end - 1;
          if (need.start > 0) expect(out.start).toBeGreaterThan(first);
          if (need.end < n) expect(out.end - 1).toBeLessThan(last);
        }
      }
    }
  });

  it('a chain walks back through the resolutions', () => {
    const ops: LocalOp[] = [{ kind: 'blurDown' }, conv(3, 'zero')];
    const out = { y: { start: 4, end: 6 }, x: { start: 0, end: 3 } };
    const chain = backChain(ops, out, 2, { height: 40, width: 40 });
    expect(chain.scales).toEqual([1, 2, 2]);
    expect(chain.rects[1]).toEqual({ y: { start: 3, end: 7 }, x: { start: 0, end: 4 } });
    expect(chain.rects[0]).toEqual({ y: { start: 4, end: 14 }, x: { start: 0, end: 8 } });
  });
});

describe('tileGrid', () => {
  it.each([
    [40, 56, 12],
    [40, 56, 4],
    [68, 104, 200],
    [16, 16, 16],
  ])('%i×%i in tiles of %i covers every pixel exactly once', (height, width, tile) => {
    const hits = new Uint8Array(height * width);
    for (const r of tileGrid({ height, width }, tile)) {
      expect(r.y.end - r.y.start).toBeLessThanOrEqual(tile);
      expect(r.y.start % 4).toBe(0);
      expect(r.x.start % 4).toBe(0);
      for (let y = r.y.start; y < r.y.end; y++) {
        for (let x = r.x.start; x < r.x.end; x++) hits[y * width + x] += 1;
      }
    }
    expect(hits.every((h) => h === 1)).toBe(true);
  });

  it('takes tiles in multiples of 4 only; roundTile gets there', () => {
    expect(() => tileGrid({ height: 8, width: 8 }, 6)).toThrow(/multiple of 4/);
    expect([roundTile(6), roundTile(1), roundTile(257)]).toEqual([4, 4, 256]);
  });
});

describe('largestTile and the smallest tile worth running', () => {
  it('never goes below a core as wide as the halo, unless the image is smaller', () => {
    expect(haloFloorTile(52, 4000)).toBe(52);
    expect(haloFloorTile(50, 4000)).toBe(52); // rounded up to a multiple of 4
    expect(haloFloorTile(16, 30)).toBe(16);
    expect(haloFloorTile(52, 30)).toBe(32); // one tile: no halo at all
    expect(haloFloorTile(0, 30)).toBe(4);
  });

  it('searches from minTile up, and answers minTile when nothing fits', () => {
    const upTo = (limit: number) => (t: number) => t <= limit;
    expect(largestTile(1000, upTo(0))).toBe(4); // the API as it was: the smallest tile
    expect(largestTile(1000, upTo(0), 52)).toBe(52);
    expect(largestTile(1000, upTo(300), 52)).toBe(300);
    expect(largestTile(1000, upTo(5000), 52)).toBe(1000);
    expect(largestTile(30, upTo(0), 52)).toBe(52); // minTile is the caller's to cap
    expect(largestTile(1000, upTo(0), 50)).toBe(52);
  });
});
