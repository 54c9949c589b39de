/**
 * The one way heatmaps open a style, whatever its kind (`patchwork heatmap` and the studio's
 * heatmap job): a CUT style with loadStyle (its generator and projection head, if it has
 * one), a SinCUT style with loadSinCutStyle (its StyleGAN2 or ResNet generator, its head and
 * the seed of its inference noise). Loading errors are the loaders' StyleErrors.
 */
import { readStyleMeta } from '../../style/style-folder';
import type { HeatmapStyle } from '../infer/heatmap';
import { disposeParams } from '../model/params';
import { disposeStyle, loadStyle } from './load-style';
import { loadSinCutStyle } from './sincut-style';

export interface OpenedHeatmapStyle extends HeatmapStyle {
  name: string;
  /** 'sincut', or the preset a CUT style was trained with. */
  preset: string;
  /** Frees the generator's and the head's weights. */
  dispose(): void;
}

export async function openHeatmapStyle(dir: string): Promise<OpenedHeatmapStyle> {
  if ((await readStyleMeta(dir)).kind === 'sincut') {
    const s = await loadSinCutStyle(dir);
    return {
      name: s.meta.name,
      preset: 'sincut',
      generator: s.generator,
      head: s.head,
      // The head's MLPs follow the options' taps (loadSinCutStyle builds it from them).
      headTaps: [...s.meta.options.nceTaps] as HeatmapStyle['headTaps'],
      noiseSeed: s.meta.noiseSeed,
      dispose: () => {
        disposeParams(s.generator.params);
        disposeParams(s.head.params);
      },
    };
  }
  const style = await loadStyle(dir);
  return {
    name: style.meta.name,
    preset: style.meta.preset,
    generator: style.generator,
    head: style.head,
    headTaps: style.headTaps,
    dispose: () => disposeStyle(style),
  };
}
