/**
 * Smaller tiles after an allocation failure. Tiled inference can resume any pass with another
 * tile size (stored maps are whole-image, tile-independent), so a pass that runs out of memory
 * is simply run again with tiles half as wide, down to the smallest tile.
 *
 * What counts as out of memory: JS typed-array and ArrayBuffer allocation failures (RangeError),
 * and messages of TF.js backends and WebAssembly that say so. TF.js's wasm backend (4.22) does
 * not report a failed malloc (it writes at offset 0), so there the budget-derived tile size is
 * the protection, not this retry.
 */
import { roundTile, TILE_STEP } from './tiling';

const OOM_MESSAGE =
  /out of memory|allocation failed|failed to allocate|invalid (typed )?array length|cannot enlarge memory|\bOOM\b/i;

export function isOutOfMemory(err: unknown): boolean {
  return err instanceof Error && OOM_MESSAGE.test(err.message);
}

/**
 * Run `attempt` with `tile`, halving the tile after each out-of-memory failure; resolves to the
 * tile that worked. Other errors, and a failure at the smallest tile, are rethrown.
 */
export async function shrinkOnOutOfMemory(
  tile: number,
  attempt: (tile: number) => Promise<void>,
): Promise<number> {
  for (;;) {
    try {
      await attempt(tile);
      return tile;
    } catch (err) {
      if (!isOutOfMemory(err) || tile <= TILE_STEP) throw err;
      tile = roundTile(tile / 2);
    }
  }
}
