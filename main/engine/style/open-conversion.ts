/**
 * The one way conversion opens a style, whatever its kind: the convert and watch jobs
 * (main/jobs/convert/, run by `patchwork convert` / `watch` and by the studio's engine process)
 * translate with what this returns. A CUT or CycleGAN style: its generator through conversionTranslator (seamless tiles
 * above a megapixel, or always when `alwaysTiled`). A SinCUT style: sincut-convert.ts (its
 * StyleGAN2 generator tiled within the memory budget, with position-based noise).
 */
import { readStyleMeta } from '../../style/style-folder';
import type { Translator } from '../infer/convert-image';
import { sincutConversion } from '../infer/sincut-convert';
import { conversionTranslator } from '../infer/tiled-generator';
import { disposeParams } from '../model/params';
import { loadStyleGenerator } from './load-style';

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

/** Loads only what conversion needs (the generator); errors are StyleErrors. */
export async function openStyleConversion(
  styleDir: string,
  opts: OpenStyleOptions = {},
): Promise<StyleConversion> {
  const alwaysTiled = opts.alwaysTiled === true;
  if ((await readStyleMeta(styleDir)).kind === 'sincut') {
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
