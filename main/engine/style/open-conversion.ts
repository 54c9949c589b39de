/**
 * The one way conversion opens a style, whatever its kind: the convert and watch jobs
 * (main/jobs/convert/, run by `patchwork convert` / `watch` and by the studio's engine process)
 * translate with what this returns. A CUT or CycleGAN style: its generator on ONNX Runtime
 * (onnx/ort-translate.ts) where the engine choice allows, else through conversionTranslator
 * on TF.js (seamless tiles above a megapixel, or always when `alwaysTiled`). A SinCUT style:
 * sincut-convert.ts (its StyleGAN2 generator tiled within the memory budget, with
 * position-based noise), its windows on ONNX Runtime where the engine choice allows.
 */
import type { EngineChoice } from '../../../shared/convert-options';
import { readStyleMeta } from '../../style/style-folder';
import type { Translator } from '../infer/convert-image';
import { sincutConversion } from '../infer/sincut-convert';
import { conversionTranslator } from '../infer/tiled-generator';
import { disposeParams } from '../model/params';
import { chooseEngine } from '../onnx/engine-choice';
import { ortTranslator } from '../onnx/ort-translate';
import type { OrtRuntime } from '../onnx/runtime';
import { loadStyleGenerator } from './load-style';

export interface StyleConversion {
  name: string;
  /** 'sincut', or the preset a CUT style was trained with. */
  preset: string;
  /** The engine that translates, in words ("ONNX Runtime 1.31.1, cpu (2 threads)"). */
  engine: string;
  translate: Translator;
  /** Frees the generator's weights (and its ONNX Runtime sessions). */
  dispose(): void;
}

export interface OpenStyleOptions {
  /** Tile whatever the image's size (the caller set a tile or a budget). */
  alwaysTiled?: boolean;
  /** Default auto: ONNX Runtime where it loads and runs the style, else TF.js. */
  engine?: EngineChoice;
  /** A reason a session fell back to another provider (out of memory, a failed start). */
  onEngineNote?: (note: string) => void;
  /** The ONNX Runtime instance (tests inject failures); the process's by default. */
  runtime?: OrtRuntime;
}

/** Loads only what conversion needs (the generator); errors are StyleErrors or EngineErrors. */
export async function openStyleConversion(
  styleDir: string,
  opts: OpenStyleOptions = {},
): Promise<StyleConversion> {
  const alwaysTiled = opts.alwaysTiled === true;
  const kind = (await readStyleMeta(styleDir)).kind === 'sincut' ? 'sincut' : 'resnet';
  const chosen = await chooseEngine(opts.engine ?? 'auto', kind, opts.runtime);
  if (kind === 'sincut') {
    const ort =
      chosen.engine === 'onnx'
        ? {
            provider: chosen.provider,
            ...(opts.runtime ? { runtime: opts.runtime } : {}),
            onFallback: (reason: string) => opts.onEngineNote?.(reason),
          }
        : undefined;
    const sincut = await sincutConversion(styleDir, alwaysTiled, ort);
    return {
      name: sincut.meta.name,
      preset: 'sincut',
      engine: chosen.detail,
      translate: sincut.translate,
      dispose: () => sincut.dispose(),
    };
  }
  const style = await loadStyleGenerator(styleDir);
  if (chosen.engine === 'onnx') {
    const ort = ortTranslator(style.generator, {
      provider: chosen.provider,
      alwaysTiled,
      ...(opts.runtime ? { runtime: opts.runtime } : {}),
      onFallback: (reason) => opts.onEngineNote?.(reason),
    });
    return {
      name: style.meta.name,
      preset: style.meta.preset,
      engine: chosen.detail,
      translate: ort.translate,
      dispose: () => {
        void ort.dispose();
        disposeParams(style.generator.params);
      },
    };
  }
  return {
    name: style.meta.name,
    preset: style.meta.preset,
    engine: chosen.detail,
    translate: conversionTranslator(style.generator, alwaysTiled),
    dispose: () => disposeParams(style.generator.params),
  };
}
