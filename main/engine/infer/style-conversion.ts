/**
 * The one way conversion opens a style, whatever its kind: `patchwork convert` / `watch` and
 * the studio's conversion and watch jobs (worker/convert-job.ts) all translate with what this
 * returns. A CUT or CycleGAN style: its generator through conversionTranslator (seamless tiles
 * above a megapixel, or always when `alwaysTiled`). A SinCUT style: sincut-convert.ts (its
 * StyleGAN2 generator tiled within the memory budget, with position-based noise).
 */
import { disposeParams } from '../model/params';
import { isSinCutStyle } from '../train/sincut-style';
import { loadStyleGenerator } from '../train/style';
import type { Translator } from './convert-image';
import { sincutConversion } from './sincut-convert';
import { conversionTranslator } from './tiled-generator';

export interface StyleConversion {
  name: string;
  /** 'sincut', or the preset a CUT style was trained with. */
  preset: string;
  translate: Translator;
  /** Frees the generator's weights. */
  dispose(): void;
}

export interface OpenStyleOptions {
  /** Tile whatever the image's size (the caller set a tile or a budget). */
  alwaysTiled?: boolean;
}

/** Loads only what conversion needs (the generator); errors are the style loaders' own. */
export async function openStyleConversion(
  styleDir: string,
  opts: OpenStyleOptions = {},
): Promise<StyleConversion> {
  const alwaysTiled = opts.alwaysTiled === true;
  if (await isSinCutStyle(styleDir)) {
    const sincut = await sincutConversion(styleDir, alwaysTiled);
    return {
      name: sincut.meta.name,
      preset: 'sincut',
      translate: sincut.translate,
      dispose: () => sincut.dispose(),
    };
  }
  const style = await loadStyleGenerator(styleDir);
  return {
    name: style.meta.name,
    preset: style.meta.preset,
    translate: conversionTranslator(style.generator, alwaysTiled),
    dispose: () => disposeParams(style.generator.params),
  };
}
