// The small SinCUT of the parity fixtures (`sincut-small`, test/fixtures/sincut) as any parity
// check needs it, whichever folder the fixture is read from (the tests' or the benchmark
// bundle's copy): its configuration, G, D and the whole model loaded with the fixture's
// weights, and the random choices the fixture's step made.
import * as tf from '@tensorflow/tfjs';
import { resolveSinCutOptions, type NceTap } from '../../shared/options';
import { assignParams, type ParamSet } from '../../main/engine/model/params';
import {
  StyleGan2Discriminator,
  styleGan2DiscriminatorSpecs,
} from '../../main/engine/model/stylegan2-discriminator';
import {
  StyleGan2Generator,
  styleGan2GeneratorSpecs,
} from '../../main/engine/model/stylegan2-generator';
import { initEqualised } from '../../main/engine/model/stylegan2-layers';
import { ProjectionHead } from '../../main/engine/model/projection-head';
import { Rng } from '../../main/engine/rng';
import { SinCutModel } from '../../main/engine/train/sincut-model';
import type { SinCutSampling } from '../../main/engine/train/sincut-step';
import type { Fixture } from './fixture';

export interface SinCutReferenceConfig {
  g: { c0: number; c1: number; n_blocks: number };
  d: { ndf: number; size: number };
  taps: NceTap[];
  losses: { lambda_r1: number };
}

export function sincutReferenceConfig(fx: Fixture): SinCutReferenceConfig {
  return fx.config as unknown as SinCutReferenceConfig;
}

/** Copies the fixture's `prefix`-named weights (torch layouts converted) into `params`. */
export function loadReferenceNet(fx: Fixture, prefix: string, params: ParamSet): void {
  const values = new Map<string, tf.Tensor>();
  for (const name of params.keys()) values.set(name, fx.param(`${prefix}${name}`));
  assignParams(params, values);
  tf.dispose([...values.values()]);
}

export function buildReferenceG(fx: Fixture): StyleGan2Generator {
  const { g } = sincutReferenceConfig(fx);
  const gcfg = { c0: g.c0, c1: g.c1, nBlocks: g.n_blocks };
  const G = new StyleGan2Generator(gcfg, initEqualised(styleGan2GeneratorSpecs(gcfg), new Rng(1)));
  loadReferenceNet(fx, 'G.', G.params);
  return G;
}

export function buildReferenceD(fx: Fixture): StyleGan2Discriminator {
  const { d } = sincutReferenceConfig(fx);
  const dcfg = { ndf: d.ndf, size: d.size };
  const D = new StyleGan2Discriminator(
    dcfg,
    initEqualised(styleGan2DiscriminatorSpecs(dcfg), new Rng(2)),
  );
  loadReferenceNet(fx, 'D.', D.params);
  return D;
}

/** The fixture's step: its networks and options. */
export function buildReferenceSinCut(fx: Fixture): SinCutModel {
  const cfg = sincutReferenceConfig(fx);
  const opts = resolveSinCutOptions({
    ndf: cfg.d.ndf,
    dPatch: cfg.d.size,
    cropSize: cfg.d.size,
    nBlocks: cfg.g.n_blocks,
    batchSize: 2,
    numPatches: 2,
    projectionDim: 16,
    nceTaps: cfg.taps,
  });
  const channels = [3, cfg.g.c1, cfg.g.c1];
  const H = ProjectionHead.create(channels, 16, 1, new Rng(3));
  loadReferenceNet(fx, 'H.', H.params);
  return new SinCutModel(opts, buildReferenceG(fx), buildReferenceD(fx), H);
}

/** The random choices the fixture's step made (read asynchronously: any backend). */
export async function referenceSinCutSampling(fx: Fixture): Promise<SinCutSampling> {
  const { taps } = sincutReferenceConfig(fx);
  const noise = fx.raw('step.noise');
  const values = (await noise.data()) as Float32Array;
  noise.dispose();
  return {
    ids: taps.map((t) => fx.ids(`step.ids.nce.${t}`)),
    idsY: taps.map((t) => fx.ids(`step.ids.nceY.${t}`)),
    noise: values,
    windows: { fakeD: [0, 0], realD: [0, 0], fakeG: [0, 0] },
  };
}
