// A pass that runs out of memory is retried with halved tiles; anything else is a real error
// and must surface at once.
import { describe, expect, it } from 'vitest';
import {
  isOutOfMemory,
  shrinkOnOutOfMemory,
  TileMemoryError,
} from '../../../../main/engine/infer/oom-retry';

describe('shrinkOnOutOfMemory', () => {
  it('halves the tile (to a multiple of 4) until an attempt fits', async () => {
    const tried: number[] = [];
    const tile = await shrinkOnOutOfMemory(100, async (t) => {
      tried.push(t);
      if (t > 20) throw new RangeError('Array buffer allocation failed');
    });
    expect(tried).toEqual([100, 48, 24, 12]);
    expect(tile).toBe(12);
  });

  it('rethrows other errors at once, and out-of-memory at the smallest tile', async () => {
    let calls = 0;
    const bug = shrinkOnOutOfMemory(64, async () => {
      calls += 1;
      throw new Error('shape mismatch');
    });
    await expect(bug).rejects.toThrow('shape mismatch');
    expect(calls).toBe(1);
    const never = shrinkOnOutOfMemory(16, async () => {
      throw new Error('failed to allocate 4 bytes: out of memory');
    });
    await expect(never).rejects.toThrow(/out of memory/);
  });

  it('stops at the smallest tile worth running and says why it goes no smaller', async () => {
    const tried: number[] = [];
    const oom = new RangeError('Array buffer allocation failed');
    const floor = { tile: 52, halo: 52 };
    const fails = shrinkOnOutOfMemory(
      400,
      async (t) => {
        tried.push(t);
        throw oom;
      },
      floor,
    );
    const err = (await fails.catch((e: unknown) => e)) as TileMemoryError;
    expect(tried).toEqual([400, 200, 100, 52]); // not on to 24, 12, 4
    expect(err).toBeInstanceOf(TileMemoryError);
    expect(err.message).toMatch(/Out of memory even with 52-px tiles.*52-px halo/);
    expect(err.cause).toBe(oom);
    expect(isOutOfMemory(err)).toBe(true); // still an out-of-memory for whoever reads it

    // A tile asked for below the floor is tried as asked, and its failure is its own.
    const below: number[] = [];
    const asked = shrinkOnOutOfMemory(
      32,
      async (t) => {
        below.push(t);
        throw oom;
      },
      floor,
    );
    await expect(asked).rejects.toBe(oom);
    expect(below).toEqual([32]);
  });

  it('recognises allocation failures of JS, TF.js backends and wasm only', () => {
    expect(isOutOfMemory(new RangeError('Invalid typed array length: 99999999999'))).toBe(true);
    expect(isOutOfMemory(new Error('OOM when allocating tensor with shape'))).toBe(true);
    expect(isOutOfMemory(new Error('Cannot enlarge memory arrays'))).toBe(true);
    expect(isOutOfMemory(new RangeError('rect is outside m'))).toBe(false);
    expect(isOutOfMemory('out of memory')).toBe(false);
  });
});
