/**
 * Smaller tiles after an allocation failure. Tiled inference can resume any pass with another
 * tile size (stored maps are whole-image, tile-independent), so a pass that runs out of memory
 * is simply run again with tiles half as wide, down to the smallest tile worth running (one
 * whose core is at least its halo: tiling.ts haloFloorTile); out of memory there, it fails
 * saying so rather than crawl on with tiles that are mostly halo.
 *
 * What counts as out of memory: JS typed-array and ArrayBuffer allocation failures (RangeError),
 * and messages of TF.js backends and WebAssembly that say so. TF.js's wasm backend (4.22) does
 * not report a failed malloc (it writes at offset 0), so there the budget-derived tile size is
 * the protection, not this retry.
 */
import { roundTile, TILE_STEP } from './tiling';

/** Out of memory with the smallest tile worth running; `cause` is the allocation failure. */
export class TileMemoryError extends Error {
  constructor(
    readonly tile: number,
    readonly halo: number,
    options: { cause: unknown },
  ) {
    super(
      `Out of memory even with ${tile}-px tiles, the smallest whose core is at least the ` +
        `${halo}-px halo around it (smaller ones would mostly compute their halo): close other ` +
        `work on this computer, or convert a smaller image.`,
      options,
    );
    this.name = 'TileMemoryError';
  }
}

const OOM_MESSAGE =
  /out of memory|allocation failed|failed to allocate|invalid (typed )?array length|cannot enlarge memory|\bOOM\b/i;

export function isOutOfMemory(err: unknown): boolean {
  return err instanceof Error && OOM_MESSAGE.test(err.message);
}

/**
 * Run `attempt` with `tile`, halving the tile after each out-of-memory failure, never below
 * `floor.tile` (or the tile asked for, when that is smaller); resolves to the tile that
 * worked. Other errors are rethrown; out of memory at the floor fails with TileMemoryError,
 * and below it (a smaller tile was asked for) with the allocation failure itself.
 */
export async function shrinkOnOutOfMemory(
  tile: number,
  attempt: (tile: number) => Promise<void>,
  floor: { tile: number; halo: number } = { tile: TILE_STEP, halo: 0 },
): Promise<number> {
  const least = Math.min(tile, Math.max(TILE_STEP, floor.tile));
  for (;;) {
    try {
      await attempt(tile);
      return tile;
    } catch (err) {
      if (!isOutOfMemory(err)) throw err;
      if (tile <= least) {
        // At the floor: say why it goes no smaller. Below it (a tile asked for): as it failed.
        if (floor.halo > 0 && tile === floor.tile) {
          throw new TileMemoryError(tile, floor.halo, { cause: err });
        }
        throw err;
      }
      tile = Math.max(least, roundTile(tile / 2));
    }
  }
}
