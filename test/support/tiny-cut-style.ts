/**
 * A tiny FastCUT style written straight through the style writer (seeded, untrained): CUT's
 * ResNet generator and a projection head of dimension 8, both with init gain 0.5 (larger than
 * training's 0.02, so the features differ clearly between positions). Optionally the same
 * generator is also written without its head, as an imported style would be.
 */
import { resolveTrainOptions, type NceTap, type TrainOptions } from '../../shared/options';
import { ResnetGenerator, tapChannels } from '../../main/engine/model/generator';
import { disposeParams } from '../../main/engine/model/params';
import { ProjectionHead } from '../../main/engine/model/projection-head';
import { Rng } from '../../main/engine/rng';
import { saveStyle } from '../../main/engine/style/save-style';
import { UNTRAINED_SUMMARY } from './tiny-style';

/** The projection head's output dimension. */
export const TINY_HEAD_DIM = 8;

export interface TinyCutStyle {
  ngf?: number;
  nBlocks?: number;
  /** The generator's seed; the head's is the next one. */
  seed?: number;
  /** Where to write the same generator without a projection head, if anywhere. */
  headless?: string;
}

/** The options a tiny style is saved with: FastCUT at these widths, its default taps. */
export function tinyCutOptions(ngf = 2, nBlocks = 1): TrainOptions {
  return resolveTrainOptions({ preset: 'fastcut', ngf, nBlocks });
}

export async function saveTinyCutStyle(
  dir: string,
  { ngf = 2, nBlocks = 1, seed = 3, headless }: TinyCutStyle = {},
): Promise<TrainOptions> {
  const options = tinyCutOptions(ngf, nBlocks);
  const taps = options.nceTaps as NceTap[];
  const generator = ResnetGenerator.create({ ngf, nBlocks }, 0.5, new Rng(seed));
  const head = ProjectionHead.create(
    taps.map((t) => tapChannels(t, ngf)),
    TINY_HEAD_DIM,
    0.5,
    new Rng(seed + 1),
  );
  try {
    const input = { name: 'Tiny', options, generator, training: UNTRAINED_SUMMARY, previews: [] };
    await saveStyle(dir, { ...input, head });
    if (headless) await saveStyle(headless, input);
    return options;
  } finally {
    disposeParams(generator.params);
    disposeParams(head.params);
  }
}
