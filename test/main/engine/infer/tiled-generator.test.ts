// Tiled translation is only worth having if it is the untiled result: no seams, no tone shift
// from tile to tile. So every case compares against translateImage, over tile sizes that stress
// the halos (a tile below a stage's receptive field, tiles that do not divide the image, one
// tile), odd sides, a spilling budget, cancellation and an out-of-memory retry. Tolerance:
// 1/255 on the [0, 1] scale; the measured maxima are printed at the end.
import { promises as fs, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../../../../main/engine/backend';
import { CycleGanGenerator, cycleganSpecs } from '../../../../main/engine/model/cyclegan-generator';
import type { StyleGenerator } from '../../../../main/engine/model/style-generator';
import { ResnetGenerator } from '../../../../main/engine/model/generator';
import { initParams } from '../../../../main/engine/model/params';
import { Rng } from '../../../../main/engine/rng';
import { ChannelMoments } from '../../../../main/engine/infer/channel-stats';
import { translateImageAsync, type RgbFloatImage } from '../../../../main/engine/infer/translate';
import {
  ResidentWatch,
  tfjsTiles,
  translateTiled,
  type TileEngine,
  type TiledOptions,
} from '../../../../main/engine/infer/tiled-generator';

let G: ResnetGenerator;
let tmpDir: string;
const measured: string[] = [];

beforeAll(async () => {
  await initBackend('wasm');
  G = ResnetGenerator.create({ ngf: 4, nBlocks: 2 }, 0.5, new Rng(3));
});
beforeEach(async () => {
  tmpDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tiled-test-'));
});
afterEach(async () => {
  await fs.rm(tmpDir, { recursive: true, force: true });
});
afterAll(() => console.info(`max |tiled − untiled| on [0, 1]:\n${measured.join('\n')}`));

function image(width: number, height: number): RgbFloatImage {
  const rng = new Rng(width * 1000 + height);
  const data = Float32Array.from({ length: width * height * 3 }, () => rng.uniform(-1, 1));
  return { data, width, height };
}

/** Translate both ways; the difference on the [0, 1] scale (images are in [−1, 1]). */
async function compare(gen: StyleGenerator, img: RgbFloatImage, opts: TiledOptions, label: string) {
  const untiled = await translateImageAsync(gen, img);
  const before = tf.memory().numTensors;
  const tiled = await translateTiled(gen, img, { tmpDir, ...opts });
  expect(tf.memory().numTensors).toBe(before);
  expect([tiled.width, tiled.height, tiled.data.length]).toEqual([
    img.width,
    img.height,
    untiled.data.length,
  ]);
  let worst = 0;
  for (let i = 0; i < untiled.data.length; i++) {
    worst = Math.max(worst, Math.abs(tiled.data[i] - untiled.data[i]) / 2);
  }
  measured.push(`  ${label}: ${worst.toExponential(2)}`);
  expect(worst).toBeLessThanOrEqual(1 / 255);
  return worst;
}

describe('translateTiled reproduces translateImage', () => {
  it.each([
    [37, 53, 4, 'tiles of 4: one pixel at H/4, below every stage’s receptive field'],
    [37, 53, 12, 'tiles that do not divide the image'],
    [101, 67, 20, 'odd sides, 6×4 tiles'],
    [101, 67, 200, 'a single tile'],
    [64, 48, 16, 'sides and tiles multiples of 4'],
    [30, 9, 8, 'a side just above the minimum'],
  ])('%i×%i, tile %i (%s)', async (w, h, tile, what) => {
    await compare(G, image(w, h), { tile }, `${w}×${h} tile ${tile} (${what})`);
  });

  it('ngf 8, 3 blocks, biased convs (means far from zero), under every store policy', async () => {
    const big = ResnetGenerator.create({ ngf: 8, nBlocks: 3 }, 0.5, new Rng(11));
    const rng = new Rng(12);
    for (const [name, v] of big.params) {
      if (name.endsWith('.bias')) v.assign(tf.tensor1d(v.dataSync().map(() => rng.normal())));
    }
    const label = '61×45 tile 24, ngf 8, 3 blocks, biases';
    await compare(big, image(61, 45), { tile: 24 }, label);
    for (const store of ['quarter', 'all'] as const) {
      await compare(big, image(61, 45), { tile: 24, store }, `${label}, store ${store}`);
    }
    big.params.forEach((v) => v.dispose());
  });

  it('chooses a tile from the budget, and counts progress to the end', async () => {
    const seen: [number, number][] = [];
    const opts = {
      memoryBudgetMB: 2,
      residentBytes: 0, // the test process's own growth must not shrink tiles mid-run
      onProgress: (d: number, t: number) => seen.push([d, t]),
    };
    await compare(G, image(101, 67), opts, '101×67, tile from a 2 MiB budget');
    const [done, total] = seen[seen.length - 1];
    expect(done).toBe(total);
    // 2N + 6 = 10 passes over more than one tile: the budget did force tiling.
    expect(total % 10).toBe(0);
    expect(total).toBeGreaterThan(10);
    expect(seen.every(([d], i) => d === i + 1)).toBe(true);
  });
});

describe('CycleGAN generators (imported styles) tile the same way', () => {
  // Stride-2 convs and transposed convs instead of blur-down and upsample: their windows and
  // border padding are different arithmetic, so the same comparisons run on them.
  it.each([
    [37, 53, 4],
    [101, 67, 20],
    [61, 45, 24],
    [30, 9, 200],
  ])('%i×%i, tile %i, biased convs', async (w, h, tile) => {
    const cfg = { ngf: 4, nBlocks: 2 };
    const rng = new Rng(w + h);
    const cycle = new CycleGanGenerator(cfg, initParams(cycleganSpecs(cfg), 0.5, rng));
    for (const [name, v] of cycle.params) {
      if (name.endsWith('.bias')) v.assign(tf.tensor1d(v.dataSync().map(() => rng.normal())));
    }
    await compare(cycle, image(w, h), { tile }, `CycleGAN ${w}×${h} tile ${tile}`);
    cycle.params.forEach((v) => v.dispose());
  });
});

describe('memory budget', () => {
  /** Tiles per pass chosen for a 512×384 image: the first progress report, then a cancel. */
  async function tilesPerPass(gen: ResnetGenerator, opts: TiledOptions): Promise<number> {
    const controller = new AbortController();
    let total = 0;
    const run = translateTiled(gen, image(512, 384), {
      tmpDir,
      ...opts,
      signal: controller.signal,
      onProgress: (_, t) => {
        total = t;
        controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    return total / 10; // 2N + 6 passes at N = 2
  }

  it('pays for what the process holds already: more resident, smaller tiles', async () => {
    const wide = ResnetGenerator.create({ ngf: 16, nBlocks: 2 }, 0.5, new Rng(5));
    const budget = { memoryBudgetMB: 120 };
    const free = await tilesPerPass(wide, { ...budget, residentBytes: 0 });
    const held = await tilesPerPass(wide, { ...budget, residentBytes: 50 * 2 ** 20 });
    expect(held).toBeGreaterThan(free);
    // By default the resident set less the input image (which the budget counts itself).
    const input = 512 * 384 * 3 * 4;
    const rss = vi.spyOn(process, 'memoryUsage').mockReturnValue({
      ...process.memoryUsage(),
      rss: 50 * 2 ** 20 + input,
    });
    expect(await tilesPerPass(wide, budget)).toBe(held);
    rss.mockRestore();
    wide.params.forEach((v) => v.dispose());
  });

  /** process.memoryUsage() with the resident set `rss(call)` gives on its n-th call. */
  function residentSet(rss: (call: number) => number) {
    let call = 0;
    const real = process.memoryUsage();
    return vi.spyOn(process, 'memoryUsage').mockImplementation(() => ({
      ...real,
      rss: rss(call++) * 2 ** 20,
    }));
  }

  /**
   * The tile of each pass for a 101×67 image with `budgetMB`, the resident set `before` MiB
   * until the first tile is done and `after` MiB from then on.
   */
  async function passTilesWith(budgetMB: number, before: number, after: number, label: string) {
    const passTiles: number[] = [];
    let done = false;
    const rss = residentSet(() => (done ? after : before));
    try {
      await compare(
        G,
        image(101, 67),
        {
          memoryBudgetMB: budgetMB,
          reusableBytes: 0,
          onPassTile: (_, t) => passTiles.push(t),
          onProgress: () => (done = true),
        },
        label,
      );
    } finally {
      rss.mockRestore();
    }
    return passTiles;
  }

  it('shrinks the tiles of later passes when a pass lifts the resident set above the budget', async () => {
    // 40 MiB resident, then past the 128 MiB budget, and flat there: one shrink, after the
    // first pass, not one per pass.
    const tiles = await passTilesWith(128, 40, 140, '101×67, tiles shrunk past the budget');
    expect(tiles).toEqual([
      tiles[0],
      ...Array<number>(9).fill(Math.floor((0.85 * tiles[0]) / 4) * 4),
    ]);
  });

  it('leaves the tiles alone while the resident set stays within what an over-budget plan expects', async () => {
    // 100 MiB resident against a 64-MiB budget: the plan takes the least working set (the
    // 64-MiB floor) over the budget, so growth to 120 MiB is the plan, not a surprise.
    const tiles = await passTilesWith(64, 100, 120, '101×67, resident set over the budget');
    expect(new Set(tiles).size).toBe(1);
  });

  it('keeps shrinking while each pass lifts it further, down to the smallest tile worth running', () => {
    const rss = residentSet((n) => 100 + n);
    try {
      const watch = new ResidentWatch(64 * 2 ** 20);
      let tile = 200;
      const tiles: number[] = [];
      for (let pass = 0; pass < 12; pass++) {
        watch.sample();
        tiles.push((tile = watch.nextTile(tile, 40)));
      }
      expect(tiles.slice(0, 3)).toEqual([168, 140, 116]);
      expect(tiles.at(-1)).toBe(40);
    } finally {
      rss.mockRestore();
    }
  });

  it('leaves the tiles alone below the budget, and when told what is resident', async () => {
    const watch = new ResidentWatch(64 * 2 ** 20);
    const rss = residentSet((n) => 10 + n);
    try {
      expect(watch.nextTile(200, 40)).toBe(200); // grew, but stays within 64 MiB
      const passTiles: number[] = [];
      await translateTiled(G, image(101, 67), {
        tmpDir,
        memoryBudgetMB: 2,
        residentBytes: 0, // the budget covers the translation only: RSS says nothing about it
        onPassTile: (_, t) => passTiles.push(t),
      });
      expect(new Set(passTiles).size).toBe(1);
    } finally {
      rss.mockRestore();
    }
  });

  it('spills stage maps to disk beyond the budget, same result, no files left', async () => {
    let spilled = 0;
    const onProgress = () => {
      for (const dir of readdirSync(tmpDir)) {
        spilled = Math.max(spilled, readdirSync(path.join(tmpDir, dir)).length);
      }
    };
    const opts = { tile: 16, memoryBudgetMB: 0.01, onProgress };
    await compare(G, image(53, 37), opts, '53×37 tile 16, spilled to disk');
    expect(spilled).toBeGreaterThanOrEqual(2);
    expect(await fs.readdir(tmpDir)).toEqual([]);
  });

  it("keeps stage maps out of the wasm heap's free part: counted for tiles, not for RAM maps", async () => {
    // The same budget keeps every map in RAM, unless that room is the heap's free part, which
    // the maps (JavaScript arrays) cannot use: then they spill, as they would have to.
    const spills = async (reusableBytes: number) => {
      let spilled = 0;
      const onProgress = () => {
        for (const dir of readdirSync(tmpDir)) {
          spilled = Math.max(spilled, readdirSync(path.join(tmpDir, dir)).length);
        }
      };
      const opts = { tile: 16, memoryBudgetMB: 64, residentBytes: 0, reusableBytes, onProgress };
      await compare(G, image(53, 37), opts, `53×37 tile 16, ${reusableBytes} B of free heap`);
      return spilled;
    };
    expect(await spills(0)).toBe(0);
    expect(await spills(64 * 2 ** 20)).toBeGreaterThanOrEqual(2);
  });
});

describe('cancellation', () => {
  it('stops at the next tile, rejects with AbortError and cleans up', async () => {
    const controller = new AbortController();
    let calls = 0;
    const before = tf.memory().numTensors;
    const run = translateTiled(G, image(53, 37), {
      tile: 8,
      memoryBudgetMB: 0, // everything on disk, so there is something to clean up
      tmpDir,
      signal: controller.signal,
      onProgress: (done) => {
        calls = done;
        if (done === 30) controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(calls).toBe(30);
    expect(tf.memory().numTensors).toBe(before);
    expect(await fs.readdir(tmpDir)).toEqual([]);
  });

  it('does not start when already aborted', async () => {
    const signal = AbortSignal.abort();
    await expect(translateTiled(G, image(16, 16), { signal, tmpDir })).rejects.toMatchObject({
      name: 'AbortError',
    });
  });
});

describe('disk traffic beside the compute', () => {
  // The next tile's windows are read, and the last tile's maps written, while a tile computes.
  // A pass that fails part-way must let its reads and writes settle before the retry rewrites
  // the same maps, and before the store removes its files.
  it('a pass failing with reads and writes in flight retries to the same result, no files left', async () => {
    let failed = false;
    const engine: TileEngine = {
      ...tfjsTiles,
      async evaluate(job) {
        const second = job.tile.x.start > 0 && job.tile.y.start === 0;
        if (!failed && job.pass.read.length > 0 && job.pass.write.length > 0 && second) {
          failed = true; // mid-pass: reads of the next tile and writes of the last are pending
          throw new RangeError('Array buffer allocation failed');
        }
        return tfjsTiles.evaluate(job);
      },
    };
    const img = image(64, 48);
    const untiled = await translateImageAsync(G, img);
    let spilled = 0;
    const onProgress = () => {
      for (const dir of readdirSync(tmpDir)) {
        spilled = Math.max(spilled, readdirSync(path.join(tmpDir, dir)).length);
      }
    };
    const opts = { tile: 32, tmpDir, memoryBudgetMB: 0.01, residentBytes: 0, onProgress };
    const tiled = await translateTiled(G, img, opts, engine);
    expect(failed).toBe(true);
    expect(spilled).toBeGreaterThanOrEqual(2);
    let worst = 0;
    for (let i = 0; i < untiled.data.length; i++) {
      worst = Math.max(worst, Math.abs(tiled.data[i] - untiled.data[i]) / 2);
    }
    measured.push(
      `  64×48 tile 32, spilled, a pass failed mid-way and retried: ${worst.toExponential(2)}`,
    );
    expect(worst).toBeLessThanOrEqual(1 / 255);
    expect(readdirSync(tmpDir)).toEqual([]);
  });
});

describe('out of memory', () => {
  it('retries a pass with smaller tiles and still equals the untiled result', async () => {
    // Stand-in for an allocation failure: reading back a large full-resolution tile fails
    // (down1's 32·32·8 values, after the stem pass ran at 32 px; at 16, the smallest tile
    // whose core is the halo, they fit).
    const add = ChannelMoments.prototype.add;
    const spy = vi.spyOn(ChannelMoments.prototype, 'add').mockImplementation(function (
      this: ChannelMoments,
      values: Float32Array,
    ) {
      if (values.length > 4096) throw new RangeError('Array buffer allocation failed');
      add.call(this, values);
    });
    const totals = new Set<number>();
    try {
      const opts = { tile: 32, onProgress: (_: number, total: number) => totals.add(total) };
      await compare(G, image(64, 48), opts, '64×48 tile 32, retried down to 16');
    } finally {
      spy.mockRestore();
    }
    expect(totals.size).toBeGreaterThan(1); // the tile grid changed on the way
  });

  it('refuses what translateImage refuses', async () => {
    await expect(translateTiled(G, image(6, 20))).rejects.toThrow(/at least 8×8/);
    const bad = { data: new Float32Array(5), width: 8, height: 8 };
    await expect(translateTiled(G, bad)).rejects.toThrow(/expected 192 values/);
  });
});
