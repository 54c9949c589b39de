// RAM and disk maps must be indistinguishable to the reader, and the disk side must leave
// nothing behind — the spill folder is the one thing tiled inference can litter.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FeatureStore } from '../../../../main/engine/infer/feature-store';
import type { Rect } from '../../../../main/engine/infer/tiling';

let tmpDir: string;
beforeEach(async () => {
  tmpDir = await fs.mkdtemp(path.join(os.tmpdir(), 'feature-store-test-'));
});
afterEach(async () => {
  await fs.rm(tmpDir, { recursive: true, force: true });
});

const rect = (y0: number, y1: number, x0: number, x1: number): Rect => ({
  y: { start: y0, end: y1 },
  x: { start: x0, end: x1 },
});

/** A map whose every value says where it is: value = (y·W + x)·C + c. */
function expectedWindow(r: Rect, width: number, channels: number): number[] {
  const out: number[] = [];
  for (let y = r.y.start; y < r.y.end; y++) {
    for (let x = r.x.start; x < r.x.end; x++) {
      for (let c = 0; c < channels; c++) out.push((y * width + x) * channels + c);
    }
  }
  return out;
}

async function fillByTiles(store: FeatureStore, id: string, h: number, w: number, c: number) {
  for (let y = 0; y < h; y += 4) {
    for (let x = 0; x < w; x += 5) {
      const r = rect(y, Math.min(h, y + 4), x, Math.min(w, x + 5));
      await store.write(id, r, Float32Array.from(expectedWindow(r, w, c)));
    }
  }
}

describe('FeatureStore', () => {
  it.each([
    ['RAM', 1e9],
    ['disk', 0],
  ])('%s: rects written tile by tile read back across tile edges', async (_, ramBytes) => {
    const store = new FeatureStore({ ramBytes, tmpDir });
    const [h, w, c] = [11, 13, 3];
    await store.create('m', h, w, c);
    await fillByTiles(store, 'm', h, w, c);
    for (const r of [
      rect(0, 11, 0, 13),
      rect(2, 9, 3, 12),
      rect(10, 11, 0, 1),
      rect(3, 7, 0, 13),
    ]) {
      expect(Array.from(await store.read('m', r))).toEqual(expectedWindow(r, w, c));
    }
    expect(store.usage.spilledMaps).toBe(ramBytes === 0 ? 1 : 0);
    await store.close();
    expect(await fs.readdir(tmpDir)).toEqual([]);
  });

  it('keeps maps in RAM up to its budget and spills the rest; free returns the bytes', async () => {
    const bytes = 8 * 8 * 2 * 4;
    const store = new FeatureStore({ ramBytes: 2 * bytes, tmpDir });
    for (const id of ['a', 'b', 'c']) await store.create(id, 8, 8, 2);
    expect(store.usage).toEqual({ ramBytes: 2 * bytes, diskBytes: bytes, spilledMaps: 1 });
    expect((await fs.readdir(tmpDir)).length).toBe(1); // one private spill folder
    await store.free('a');
    await store.create('d', 8, 8, 2); // fits in RAM again
    expect(store.usage).toEqual({ ramBytes: 2 * bytes, diskBytes: bytes, spilledMaps: 1 });
    await store.free('c');
    await store.close();
    await store.close(); // idempotent
    expect(await fs.readdir(tmpDir)).toEqual([]);
  });

  it('refuses rects outside the map, wrong lengths and shape changes', async () => {
    const store = new FeatureStore({ ramBytes: 0, tmpDir });
    await store.create('m', 4, 4, 1);
    await expect(store.read('m', rect(0, 5, 0, 4))).rejects.toThrow(/outside m/);
    await expect(store.write('m', rect(0, 2, 0, 2), new Float32Array(3))).rejects.toThrow(
      /expected 4 values/,
    );
    await expect(store.create('m', 4, 4, 2)).rejects.toThrow(/another shape/);
    await expect(store.read('nope', rect(0, 1, 0, 1))).rejects.toThrow(/no feature map nope/);
    await store.close();
    expect(await fs.readdir(tmpDir)).toEqual([]);
  });
});
