/**
 * A quick look at a folder the artist chose, before anything is decoded: how many images it
 * holds, which files will be left out, a few images to show as thumbnails, and warnings in
 * plain words (too few images, nothing usable). Decoding problems are found later, by the
 * engine, and reported per file.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { FolderSummary } from '../../shared/ipc';
import { AllowedRoots, OUTSIDE_ALLOWED } from './path-policy';

const IMAGE = /\.(jpe?g|png|webp|tiff?|avif)$/i;
/** What a browser page can show as a thumbnail without decoding help. */
const SHOWABLE = /\.(jpe?g|png|webp|avif)$/i;
const MAX_SAMPLES = 8;
/** Below this a style can still train, but will mostly learn these few pictures. */
export const FEW_IMAGES = 10;
/** Links out of the allowed folders named one by one, up to this many. */
const MAX_NAMED_OUTSIDE = 10;

/**
 * `allowedRoots`: the folders the transport may read (PathPolicy.roots); entries that link
 * outside them are left out, each named in a warning. Null: no restriction.
 */
export async function scanFolder(
  dir: string,
  recursive: boolean,
  allowedRoots: readonly string[] | null = null,
): Promise<FolderSummary> {
  const allowed = allowedRoots ? await AllowedRoots.of(allowedRoots) : null;
  const images: string[] = [];
  const outside: string[] = [];
  let others = 0;
  let bytes = 0;
  const walk = async (d: string, depth: number): Promise<void> => {
    const entries = await fs.readdir(d, { withFileTypes: true });
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = path.join(d, e.name);
      // Only a link can lead out: anything else below an allowed folder is inside it.
      if (e.isSymbolicLink() && allowed && !(await allowed.holds(p))) {
        outside.push(path.relative(dir, p));
        continue;
      }
      if (e.isDirectory()) {
        if (recursive && depth < 32) await walk(p, depth + 1);
      } else if (IMAGE.test(e.name)) {
        images.push(p);
        bytes += (await fs.stat(p).catch(() => null))?.size ?? 0;
      } else {
        others += 1;
      }
    }
  };
  await walk(dir, 0);
  const warnings: string[] = [];
  if (images.length === 0) warnings.push('No images here (JPEG, PNG, WebP, TIFF or AVIF).');
  else if (images.length < FEW_IMAGES) {
    warnings.push(
      `Only ${images.length} image${images.length === 1 ? '' : 's'}: a style learns best from a few dozen or more.`,
    );
  }
  if (others) {
    warnings.push(
      `${others} file${others === 1 ? ' is' : 's are'} not images and will be left out.`,
    );
  }
  for (const name of outside.slice(0, MAX_NAMED_OUTSIDE)) {
    warnings.push(
      `${name} is left out (${OUTSIDE_ALLOWED}): it links outside the folders this studio may use.`,
    );
  }
  if (outside.length > MAX_NAMED_OUTSIDE) {
    warnings.push(
      `${outside.length - MAX_NAMED_OUTSIDE} more entries link outside the folders this studio may use and are left out.`,
    );
  }
  return {
    path: dir,
    images: images.length,
    others,
    bytes,
    samples: images.filter((p) => SHOWABLE.test(p)).slice(0, MAX_SAMPLES),
    warnings,
  };
}
