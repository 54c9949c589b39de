/**
 * The generators a style can hold, by architecture (style.json `generator.architecture`):
 * CUT's ResNet generator (generator.ts), trained here, and CycleGAN's (cyclegan-generator.ts),
 * imported. Everything that builds or names a style's generator asks here, so a third
 * architecture is one more case in this file.
 */
import { CycleGanGenerator, cycleganSpecs } from './cyclegan-generator';
import { generatorSpecs, ResnetGenerator, type GeneratorConfig } from './generator';
import type { ParamSet, ParamSpec } from './params';
import type { CutArchitecture } from '../../style/style-json';

/** The generator networks a style can hold (style.json `generator.architecture`). */
export type Architecture = CutArchitecture;

/** A generator that translates: CUT's (which also encodes, for training and heatmaps) or CycleGAN's. */
export type StyleGenerator = ResnetGenerator | CycleGanGenerator;

export function architectureOf(g: StyleGenerator): Architecture {
  return g instanceof CycleGanGenerator ? 'cyclegan-resnet' : 'cut-resnet';
}

export function specsFor(architecture: Architecture, cfg: GeneratorConfig): ParamSpec[] {
  return architecture === 'cut-resnet' ? generatorSpecs(cfg) : cycleganSpecs(cfg);
}

export function makeGenerator(
  architecture: Architecture,
  cfg: GeneratorConfig,
  params: ParamSet,
): StyleGenerator {
  return architecture === 'cut-resnet'
    ? new ResnetGenerator(cfg, params)
    : new CycleGanGenerator(cfg, params);
}
