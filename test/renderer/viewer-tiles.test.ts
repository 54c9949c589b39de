// The before/after viewer's choice of tiles, as a pure function: the preview alone while it
// has the pixels, then the level whose pixels are as fine as the screen's, only the tiles
// in view (or in the split's half), placed where the preview's pixels are, nearest the
// middle first.
import { describe, expect, it } from 'vitest';
import { chooseTiles, MAX_TILES, type Viewport } from '../../renderer/src/lib/viewer-tiles';

/** A 40-Mpx image (7744×5184): 16×11 tiles of 512 at level 0, 5 levels. */
const info = { width: 7744, height: 5184, tileSize: 512, levels: 5 };
/** A stage with the image's aspect, 968 px wide: 1/8 of the image's width. */
const stage = (over: Partial<Viewport> = {}): Viewport => ({
  stageWidth: 968,
  stageHeight: 648,
  zoom: 1,
  panX: 0,
  panY: 0,
  dpr: 1,
  ...over,
});

describe('chooseTiles', () => {
  it('draws only the preview while it has enough pixels', () => {
    expect(chooseTiles(stage(), info, 2048)).toEqual({ level: null, tiles: [] });
    // 2048 / 7744 = 0.264 preview pixels per image pixel; zoom 2 shows 0.25.
    expect(chooseTiles(stage({ zoom: 2 }), info, 2048).level).toBeNull();
    expect(chooseTiles(stage({ zoom: 0 }), info, 2048).level).toBeNull();
    expect(chooseTiles(stage({ stageWidth: 0 }), info, 2048).level).toBeNull();
  });

  it('picks the level as fine as the screen, the device pixel ratio included', () => {
    const level = (over: Partial<Viewport>) => chooseTiles(stage(over), info, 2048).level;
    expect(level({ zoom: 3 })).toBe(1); // 0.375 screen px per image px → level 1 (0.5)
    expect(level({ zoom: 4 })).toBe(1); // 0.5
    expect(level({ zoom: 5 })).toBe(0); // 0.625
    expect(level({ zoom: 16 })).toBe(0); // beyond 1:1, still the full resolution
    expect(level({ zoom: 2, dpr: 2 })).toBe(1);
    expect(level({ zoom: 3, dpr: 2 })).toBe(0);
    // A small preview needs tiles sooner.
    expect(chooseTiles(stage({ zoom: 1 }), info, 256).level).toBe(3); // 0.125 > 0.033
  });

  it('chooses only the tiles in view, placed over the preview, the middle first', () => {
    // Zoom 8 at the top-left: 968 stage px show 968 image px: columns 0–1, rows 0–1.
    const top = chooseTiles(stage({ zoom: 8 }), info, 2048);
    expect(top.level).toBe(0);
    expect(top.tiles.map((t) => t.key).sort()).toEqual(['0/0/0', '0/0/1', '0/1/0', '0/1/1']);
    const t11 = top.tiles.find((t) => t.key === '0/1/1')!;
    expect(t11).toMatchObject({ left: 512, top: 512, width: 512, height: 512 });

    // Panned to the middle of the picture: stage (0,0) is image (3000, 2000).
    const mid = chooseTiles(stage({ zoom: 8, panX: -3000, panY: -2000 }), info, 2048);
    const xs = new Set(mid.tiles.map((t) => t.x));
    const ys = new Set(mid.tiles.map((t) => t.y));
    expect([...xs].sort((a, b) => a - b)).toEqual([5, 6, 7]); // image x 3000–3968
    expect([...ys].sort((a, b) => a - b)).toEqual([3, 4, 5]); // image y 2000–2648
    const first = mid.tiles[0];
    expect([first.x, first.y]).toEqual([6, 4]); // holds the middle, (3484, 2324)
    expect(first.left).toBe(6 * 512 - 3000);
  });

  it('covers only the split’s side, and the last row and column are cut to the image', () => {
    const v = stage({ zoom: 8 });
    const left = chooseTiles(v, info, 2048, 0, 400);
    expect(new Set(left.tiles.map((t) => t.x))).toEqual(new Set([0]));
    const right = chooseTiles(v, info, 2048, 600);
    expect(new Set(right.tiles.map((t) => t.x))).toEqual(new Set([1]));
    expect(chooseTiles(v, info, 2048, 968).tiles).toEqual([]);

    // The bottom-right corner at zoom 8: the last column is 7744 − 15·512 = 64 px wide.
    const corner = chooseTiles(
      stage({ zoom: 8, panX: -(7744 - 968), panY: -(5184 - 648) }),
      info,
      2048,
    );
    const last = corner.tiles.find((t) => t.x === 15 && t.y === 10)!;
    expect([last.width, last.height]).toEqual([64, 5184 - 10 * 512]);
    expect(last.left + last.width).toBeCloseTo(968);
  });

  it('places tiles inside a stage narrower than the picture (letterboxed) and caps the count', () => {
    // A square stage: the image is fitted to its width and centred, 160 px below the top.
    const v = stage({ stageWidth: 968, stageHeight: 968, zoom: 8, panY: -8 * 160 + 100 });
    const t00 = chooseTiles(v, info, 2048).tiles.find((t) => t.key === '0/0/0')!;
    expect([t00.left, t00.top]).toEqual([0, 100]);
    // Above the picture (its margin in view): nothing to draw.
    expect(
      chooseTiles(stage({ stageWidth: 968, stageHeight: 968, zoom: 8 }), info, 2048).tiles,
    ).toEqual([]);
    // A huge stage at a fine level would want hundreds: never more than MAX_TILES.
    const huge = chooseTiles(
      stage({ stageWidth: 7744, stageHeight: 5184, zoom: 1, dpr: 1 }),
      info,
      64,
    );
    expect(huge.level).toBe(0);
    expect(huge.tiles.length).toBe(MAX_TILES);
  });
});
