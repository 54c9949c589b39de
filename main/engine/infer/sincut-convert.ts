/**
 * Conversion with a SinCUT style: the style's generator bound to a Translator (the contract
 * conversion uses for every style). The StyleGAN2 generator always runs tile by tile
 * (sincut-tiled.ts), which equals its untiled result, its tiles sized from the memory budget;
 * a SinCUT style trained with CUT's ResNet generator is translated as CUT styles are
 * (conversionTranslator: seamless tiles above a megapixel or when asked for).
 */
import { disposeParams } from '../model/params';
import { StyleGan2Generator } from '../model/stylegan2-generator';
import type { SinCutStyleMeta } from '../../style/style-json';
import { loadSinCutStyle } from '../style/sincut-style';
import type { Translator } from './convert-image';
import { translateSinCut } from './sincut-tiled';
import { conversionTranslator } from './tiled-generator';

export interface SinCutConversion {
  meta: SinCutStyleMeta;
  translate: Translator;
  dispose(): void;
}

/**
 * `alwaysTiled` concerns the ResNet variant only (as conversionTranslator's): tiled whatever
 * the image's size, as when the caller set a tile or a budget.
 */
export async function sincutConversion(
  styleDir: string,
  alwaysTiled = false,
): Promise<SinCutConversion> {
  const style = await loadSinCutStyle(styleDir);
  const G = style.generator;
  disposeParams(style.head.params);
  const translate: Translator =
    G instanceof StyleGan2Generator
      ? (image, opts) =>
          translateSinCut(G, image, {
            ...(opts.tile !== undefined ? { tile: opts.tile } : {}),
            ...(opts.memoryBudgetMB !== undefined ? { memoryBudgetMB: opts.memoryBudgetMB } : {}),
            noiseSeed: style.meta.noiseSeed,
          })
      : conversionTranslator(G, alwaysTiled);
  return { meta: style.meta, translate, dispose: () => disposeParams(G.params) };
}
