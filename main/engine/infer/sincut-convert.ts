/**
 * Conversion with a SinCUT style: the style's generator bound to a Translator (the contract
 * conversion uses for every style). The StyleGAN2 generator always runs tile by tile
 * (sincut-tiled.ts), which equals its untiled result; a SinCUT style trained with CUT's
 * ResNet generator runs untiled.
 */
import { disposeParams } from '../model/params';
import { StyleGan2Generator } from '../model/stylegan2-generator';
import { loadSinCutStyle, type SinCutStyleMeta } from '../train/sincut-style';
import type { Translator } from './convert-image';
import { translateSinCut } from './sincut-tiled';
import { translateImageAsync } from './translate';

export interface SinCutConversion {
  meta: SinCutStyleMeta;
  translate: Translator;
  dispose(): void;
}

export async function sincutConversion(styleDir: string): Promise<SinCutConversion> {
  const style = await loadSinCutStyle(styleDir);
  const G = style.generator;
  disposeParams(style.head.params);
  const translate: Translator =
    G instanceof StyleGan2Generator
      ? (image, opts) =>
          translateSinCut(G, image, {
            ...(opts.tile !== undefined ? { tile: opts.tile } : {}),
            noiseSeed: style.meta.noiseSeed,
          })
      : (image) => translateImageAsync(G, image);
  return { meta: style.meta, translate, dispose: () => disposeParams(G.params) };
}
