/**
 * Geometry of exact tiled inference (DESIGN.md, "High resolution without seams"): which window
 * of its input a local op needs for a window of its output, and the tile grid.
 *
 * Windows are spans clipped to the map they lie on. Inside the image a halo is read from
 * neighbouring content; only where a window reaches the true image border does an op apply its
 * own padding (a conv's reflect or zero pad, blur-downsample's reflect pad, upsample's replicate
 * pad), so every op sees at the border exactly what the untiled network sees and, elsewhere,
 * real pixels. Everything here is per axis; a rectangle is a pair of spans.
 */

/** Half-open [start, end) along one axis of a map. */
export interface Span {
  start: number;
  end: number;
}

export interface Rect {
  y: Span;
  x: Span;
}

/** Height and width of the full-resolution (padded) map; a map at scale s is size / s. */
export interface MapSize {
  height: number;
  width: number;
}

/**
 * The generators' local ops (DESIGN.md, "The model"): nothing here mixes distant pixels.
 * `convDown` and `convUp` are CycleGAN's resamplers (cyclegan-generator.ts): a 3×3 conv with
 * stride 2 and zero padding 1, and a 3×3 transposed conv with stride 2, padding 1 and
 * output padding 1.
 */
export type LocalOp =
  | { kind: 'conv'; layer: string; size: number; pad: 'reflect' | 'zero'; outChannels: number }
  | { kind: 'convDown'; layer: string; outChannels: number }
  | { kind: 'convUp'; layer: string; outChannels: number }
  | { kind: 'blurDown' }
  | { kind: 'upsample' }
  | { kind: 'tanh' };

export const spanLength = (s: Span): number => s.end - s.start;
export const rectArea = (r: Rect): number => spanLength(r.y) * spanLength(r.x);

/** Resolution divisor of an op's input, given its output's (blur-down halves, upsample doubles). */
export function inputScale(op: LocalOp, outScale: number): number {
  if (op.kind === 'blurDown' || op.kind === 'convDown') return outScale / 2;
  if (op.kind === 'upsample' || op.kind === 'convUp') return outScale * 2;
  return outScale;
}

/** Channels after an op, given those before it. */
export function channelsAfter(op: LocalOp, channels: number): number {
  return 'outChannels' in op ? op.outChannels : channels;
}

/**
 * The input span an op needs for output span `out`, clipped to an input of length `n`.
 * - conv k (stride 1, padding p = (k−1)/2): p more on each side.
 * - blur-down: out[i] = (x[2i−1] + 2x[2i] + x[2i+1]) / 4, so [2a−1, 2b); the window starts one
 *   row earlier, at 2a−2, so that it starts on the stride-2 grid and the layer's own
 *   blurDownsample can be run on it and cropped (its first output there is dropped).
 * - upsample: out[2i] = ¼x[i−1] + ¾x[i], out[2i+1] = ¾x[i] + ¼x[i+1].
 * - convDown: out[i] reads x[2i−1 … 2i+1], so [2a−1, 2b); before the image's first row it
 *   reads its zero padding (the last output of an even side never reaches past the end).
 * - convUp: out[2i] = k₁·x[i], out[2i+1] = k₂·x[i] + k₀·x[i+1], so [⌊a/2⌋, ⌊b/2⌋ + 1); past
 *   the image's last row there is nothing, as in the untiled network.
 */
export function needSpan(op: LocalOp, out: Span, n: number): Span {
  const clip = (start: number, end: number): Span => ({
    start: Math.max(0, start),
    end: Math.min(n, end),
  });
  switch (op.kind) {
    case 'conv': {
      const p = (op.size - 1) / 2;
      return clip(out.start - p, out.end + p);
    }
    case 'blurDown':
      return clip(2 * out.start - 2, 2 * out.end);
    case 'upsample':
      return clip(Math.floor((out.start - 1) / 2), Math.floor(out.end / 2) + 1);
    case 'convDown':
      return clip(2 * out.start - 1, 2 * out.end);
    case 'convUp':
      return clip(Math.floor(out.start / 2), Math.floor(out.end / 2) + 1);
    case 'tanh':
      return out;
  }
}

export function needRect(op: LocalOp, out: Rect, inHeight: number, inWidth: number): Rect {
  return { y: needSpan(op, out.y, inHeight), x: needSpan(op, out.x, inWidth) };
}

/**
 * How to place an op's result on the output span: a conv pads `before`/`after` (non-zero only
 * at the image border, where the window could not be widened) and then runs 'valid'; a
 * resampler runs on the whole window and its result is cropped from `offset`.
 */
export function placeSpan(
  op: LocalOp,
  input: Span,
  out: Span,
): { before: number; after: number; offset: number } {
  switch (op.kind) {
    case 'conv': {
      const p = (op.size - 1) / 2;
      return { before: p - (out.start - input.start), after: p - (input.end - out.end), offset: 0 };
    }
    case 'convDown':
      // Zero rows before the window where it was clipped at the image border; a stride-2
      // 'valid' conv over [2a − 1, 2b) then gives exactly [a, b).
      return { before: input.start - (2 * out.start - 1), after: 0, offset: 0 };
    case 'blurDown':
      return { before: 0, after: 0, offset: out.start - input.start / 2 };
    case 'upsample':
    case 'convUp':
      return { before: 0, after: 0, offset: out.start - 2 * input.start };
    case 'tanh':
      return { before: 0, after: 0, offset: 0 };
  }
}

/** The windows of an op chain for an output window: rects[0] is the chain's input. */
export interface Chain {
  rects: Rect[];
  scales: number[];
}

export function backChain(
  ops: readonly LocalOp[],
  out: Rect,
  outScale: number,
  size: MapSize,
): Chain {
  const rects = [out];
  const scales = [outScale];
  for (let i = ops.length - 1; i >= 0; i--) {
    const s = inputScale(ops[i], scales[0]);
    rects.unshift(needRect(ops[i], rects[0], size.height / s, size.width / s));
    scales.unshift(s);
  }
  return { rects, scales };
}

/** A full-resolution rect at a coarser scale; tiles are multiples of 4, so this is exact. */
export function scaleRect(r: Rect, scale: number): Rect {
  const div = (s: Span): Span => ({ start: s.start / scale, end: s.end / scale });
  return { y: div(r.y), x: div(r.x) };
}

export function unionRect(a: Rect | undefined, b: Rect): Rect {
  if (!a) return b;
  const join = (p: Span, q: Span): Span => ({
    start: Math.min(p.start, q.start),
    end: Math.max(p.end, q.end),
  });
  return { y: join(a.y, b.y), x: join(a.x, b.x) };
}

/** Tile sides are multiples of 4 so that every tile edge falls on a quarter-resolution pixel. */
export const TILE_STEP = 4;

export function roundTile(tile: number): number {
  return Math.max(TILE_STEP, Math.floor(tile / TILE_STEP) * TILE_STEP);
}

/**
 * The smallest tile worth running for a halo of `halo` pixels (at full resolution, on each
 * side): the first multiple of TILE_STEP whose core is at least the halo. A smaller core would
 * spend most of its work on the halo around it — at a 52-px halo a 4-px tile computes a
 * 108-px window for 16 output pixels, 729 times the work of an untiled pass. An image whose
 * long side is smaller is one tile, with no halo to pay for.
 */
export function haloFloorTile(halo: number, maxSide: number): number {
  const up = (n: number) => Math.max(TILE_STEP, Math.ceil(n / TILE_STEP) * TILE_STEP);
  return Math.min(up(halo), up(maxSide));
}

/**
 * The largest tile (a multiple of TILE_STEP, at most `maxSide` rounded up to one) that `fits`
 * accepts, assuming that a tile fits whenever a larger one does; `minTile` (rounded up to a
 * multiple of TILE_STEP, default the smallest tile; see haloFloorTile) if none does. A binary
 * search: a few dozen calls of `fits` at most.
 */
export function largestTile(
  maxSide: number,
  fits: (tile: number) => boolean,
  minTile: number = TILE_STEP,
): number {
  // In units of TILE_STEP; lo is always acceptable or the minimum.
  let lo = Math.max(1, Math.ceil(minTile / TILE_STEP));
  let hi = Math.max(lo, Math.ceil(maxSide / TILE_STEP));
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(mid * TILE_STEP)) lo = mid;
    else hi = mid - 1;
  }
  return lo * TILE_STEP;
}

/** Row-major grid of full-resolution tiles; the last row and column may be narrower. */
export function tileGrid(size: MapSize, tile: number): Rect[] {
  if (tile % TILE_STEP !== 0 || tile <= 0)
    throw new RangeError(`tile ${tile} is not a multiple of 4`);
  const spans = (n: number): Span[] => {
    const out: Span[] = [];
    for (let s = 0; s < n; s += tile) out.push({ start: s, end: Math.min(n, s + tile) });
    return out;
  };
  const rows = spans(size.height);
  const cols = spans(size.width);
  return rows.flatMap((y) => cols.map((x) => ({ y, x })));
}
