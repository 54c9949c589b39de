/**
 * A first look at a SinCUT image pair for the New style form, with the engine's own loader
 * and checks (the same words a training job would say): each image's size, whether it is
 * grayscale and whether training would use a scaled copy; warnings for a tiny image, a very
 * long strip, a grayscale/colour pair, a huge image, and two images of very different shape.
 */
import type { ImageFacts, PairCheckResult, PairCheckSpec } from '../../shared/ipc-worker';
import {
  checkSinglePair,
  loadSingleImage,
  SingleImageError,
  type SingleImage,
} from '../engine/data/single-image';

const ROLES = { source: 'Source image', target: 'Target image' } as const;

/** Shapes further apart than this (as ratios of their aspect ratios) earn a warning. */
export const ASPECT_MISMATCH = 2.5;

export async function runPairCheck(spec: PairCheckSpec): Promise<PairCheckResult> {
  const result: PairCheckResult = { source: null, target: null, warnings: [], problem: null };
  const loaded: Partial<Record<'source' | 'target', SingleImage>> = {};
  for (const role of ['source', 'target'] as const) {
    const file = spec[role];
    if (!file) continue;
    try {
      const img = await loadSingleImage(file);
      loaded[role] = img;
      result[role] = facts(img);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      result.problem ??= `${ROLES[role]} ${file} cannot be read: ${why}`;
    }
  }
  const { source, target } = loaded;
  const a = source ?? target;
  const b = target ?? source;
  if (!a || !b) return result;
  const roles = {
    a: source ? ROLES.source : ROLES.target,
    b: target ? ROLES.target : ROLES.source,
  };
  try {
    result.warnings = [...new Set(checkSinglePair(a, b, spec.cropSize, roles))];
  } catch (err) {
    if (!(err instanceof SingleImageError)) throw err;
    result.problem ??= err.message;
  }
  if (source && target) {
    const shape = (i: SingleImage) => i.fileWidth / i.fileHeight;
    const apart = Math.max(shape(source), shape(target)) / Math.min(shape(source), shape(target));
    if (apart > ASPECT_MISMATCH) {
      result.warnings.push(
        `The two images have very different shapes (${ratio(source)} and ${ratio(target)}). ` +
          `Training looks at square crops of each, so this works; the result keeps the ` +
          `source image's shape.`,
      );
    }
  }
  return result;
}

function facts(img: SingleImage): ImageFacts {
  const scaled = img.width !== img.fileWidth || img.height !== img.fileHeight;
  return {
    path: img.file,
    width: img.fileWidth,
    height: img.fileHeight,
    grayscale: img.grayscale,
    trainedAt: scaled ? { width: img.width, height: img.height } : null,
  };
}

function ratio(img: SingleImage): string {
  const r = img.fileWidth / img.fileHeight;
  return r >= 1 ? `${r.toFixed(1)}:1` : `1:${(1 / r).toFixed(1)}`;
}
