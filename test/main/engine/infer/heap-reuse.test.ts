// The wasm heap never shrinks: after a training run the process is large but its heap is
// mostly free. A preview there used to be planned as if all of it were taken, and got the
// smallest tiles; these tests grow a real heap the way a run does and check that the budget
// counts its free part as available, and that the tiles then really fit in it.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../../main/engine/backend';
import {
  HEAP_SLACK_FRACTION,
  reusableHeapBytes,
  wasmHeapUse,
} from '../../../../main/engine/infer/heap-reuse';
import { chooseSinCutTile, translateSinCut } from '../../../../main/engine/infer/sincut-tiled';
import { workingBytes } from '../../../../main/engine/infer/tiled-generator';
import { StyleGan2Generator } from '../../../../main/engine/model/stylegan2-generator';
import { Rng } from '../../../../main/engine/rng';
import { randomImage } from '../../../support/float-images';

const MiB = 2 ** 20;

beforeAll(async () => {
  await initBackend('wasm');
});

describe('reusableHeapBytes', () => {
  it('is the heap less its tensors and a slack, within what is resident', () => {
    const GiB = 1024 * MiB;
    const heap = { heapBytes: 2 * GiB, inUseBytes: 100 * MiB };
    const slack = 2 * GiB * HEAP_SLACK_FRACTION;
    expect(reusableHeapBytes(heap, 3 * GiB)).toBe(2 * GiB - 100 * MiB - slack);
    expect(reusableHeapBytes(heap, GiB)).toBe(GiB); // never more than the process holds
    expect(reusableHeapBytes({ heapBytes: 16 * MiB, inUseBytes: 0 }, GiB)).toBe(0); // fresh
    expect(reusableHeapBytes({ heapBytes: GiB, inUseBytes: GiB }, 2 * GiB)).toBe(0);
    expect(reusableHeapBytes(null, GiB)).toBe(0); // not the wasm backend
  });

  it("counts a grown heap's free space, and a preview there gets the tiles a fresh process would", async () => {
    // Grow the heap as a training run does, then free it.
    tf.fill([(512 * MiB) / 4], 1).dispose();
    const use = wasmHeapUse();
    expect(use).not.toBeNull();
    expect(use?.heapBytes).toBeGreaterThanOrEqual(512 * MiB);
    expect(reusableHeapBytes()).toBeGreaterThan(400 * MiB);

    // The process holds about its budget already (as a 2.6 GB process after SinCUT training
    // held more than the 1 GiB default): counting the heap as taken leaves the 64-MiB minimum,
    // where the reference widths get the smallest tile (4 px before its core had to cover its
    // halo, 52 px now); counting its free part as available gives the tiles room.
    const cfg = { c0: 80, c1: 160, nBlocks: 9 };
    const preview = { width: 512, height: 384 };
    const memoryBudgetMB = Math.ceil(process.memoryUsage().rss / MiB) + 16;
    const taken = workingBytes(preview, { memoryBudgetMB, reusableBytes: 0 });
    const reused = workingBytes(preview, { memoryBudgetMB });
    expect(taken).toBe(64 * MiB);
    expect(reused).toBeGreaterThan(400 * MiB);
    const before = chooseSinCutTile(cfg, preview, taken);
    const after = chooseSinCutTile(cfg, preview, reused);
    console.info(
      `heap ${Math.round((use?.heapBytes ?? 0) / MiB)} MiB, budget ${memoryBudgetMB} MiB: ` +
        `tile ${before} px counting the heap as taken, ${after} px counting its free part`,
    );
    expect(before).toBe(52);
    expect(after).toBeGreaterThanOrEqual(2 * before);

    // And the tiles do fit in the free heap: a translation planned so does not grow it.
    const G = StyleGan2Generator.create({ c0: 8, c1: 16, nBlocks: 2 }, new Rng(2));
    const heapBefore = wasmHeapUse()?.heapBytes;
    const image = randomImage(160, 120, 3);
    const budget = Math.ceil(process.memoryUsage().rss / MiB) + 8;
    const tiles: number[] = [];
    await translateSinCut(G, image, { memoryBudgetMB: budget, onTileSize: (t) => tiles.push(t) });
    expect(tiles[0]).toBeGreaterThanOrEqual(160); // one tile: the free heap holds it
    expect(wasmHeapUse()?.heapBytes).toBe(heapBefore);
  });
});
