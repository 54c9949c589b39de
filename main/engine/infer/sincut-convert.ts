/**
 * Conversion with a SinCUT style: the style's generator bound to a Translator (the contract
 * conversion uses for every style). The StyleGAN2 generator always runs tile by tile
 * (sincut-tiled.ts), which equals its untiled result, its tiles sized from the memory budget;
 * a SinCUT style trained with CUT's ResNet generator is translated as CUT styles are
 * (conversionTranslator: seamless tiles above a megapixel or when asked for). With `ort` both
 * run on ONNX Runtime: the StyleGAN2 generator's windows through its exported graph
 * (sincut-onnx.ts, the same tiles), the ResNet variant through onnx/ort-translate.ts.
 */
import { disposeParams } from '../model/params';
import { StyleGan2Generator } from '../model/stylegan2-generator';
import type { SinCutStyleMeta } from '../../style/style-json';
import { loadSinCutStyle } from '../style/sincut-style';
import type { Translator } from './convert-image';
import { ortTranslator } from '../onnx/ort-translate';
import { sincutOrtForward, type SinCutOrtOptions } from './sincut-onnx';
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
  ort?: SinCutOrtOptions,
): Promise<SinCutConversion> {
  const style = await loadSinCutStyle(styleDir);
  const G = style.generator;
  disposeParams(style.head.params);
  if (G instanceof StyleGan2Generator) {
    const onnx = ort ? sincutOrtForward(G, ort) : null;
    const translate: Translator = (image, opts) =>
      translateSinCut(G, image, {
        ...(opts.tile !== undefined ? { tile: opts.tile } : {}),
        ...(opts.memoryBudgetMB !== undefined ? { memoryBudgetMB: opts.memoryBudgetMB } : {}),
        ...(opts.onOverBudget ? { onOverBudget: opts.onOverBudget } : {}),
        noiseSeed: style.meta.noiseSeed,
        ...(onnx ? { forward: onnx.forward } : {}),
        ...(opts.onProgress ? { onTile: opts.onProgress } : {}),
      });
    const dispose = () => {
      void onnx?.dispose();
      disposeParams(G.params);
    };
    return { meta: style.meta, translate, dispose };
  }
  if (ort) {
    const t = ortTranslator(G, { ...ort, alwaysTiled });
    const dispose = () => {
      void t.dispose();
      disposeParams(G.params);
    };
    return { meta: style.meta, translate: t.translate, dispose };
  }
  const translate = conversionTranslator(G, alwaysTiled);
  return { meta: style.meta, translate, dispose: () => disposeParams(G.params) };
}
