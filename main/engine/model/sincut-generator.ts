/**
 * SinCUT's generator (reference: models/sincut_model.py): the StyleGAN2 generator, or CUT's
 * ResNet generator when asked for, built from the resolved SinCUT options; and the width of
 * each encoder tap, which sizes the projection head. Training and a saved style both ask here.
 */
import type { NceTap, SinCutOptions } from '../../../shared/options';
import type { Rng } from '../rng';
import { ResnetGenerator, tapChannels } from './generator';
import { StyleGan2Generator, styleGan2TapChannels, styleGan2Widths } from './stylegan2-generator';

export type SinCutGenerator = StyleGan2Generator | ResnetGenerator;

export function createGenerator(opts: SinCutOptions, rng: Rng): SinCutGenerator {
  if (opts.netG === 'resnet') {
    return ResnetGenerator.create({ ngf: opts.ngf, nBlocks: opts.nBlocks }, 0.02, rng);
  }
  const { c0, c1 } = styleGan2Widths(opts.ngf, opts.cropSize);
  return StyleGan2Generator.create({ c0, c1, nBlocks: opts.nBlocks }, rng);
}

export function sincutTapChannels(opts: SinCutOptions, tap: NceTap): number {
  if (opts.netG === 'resnet') return tapChannels(tap, opts.ngf);
  return styleGan2TapChannels(tap, styleGan2Widths(opts.ngf, opts.cropSize));
}
