// The small CUT of the golden parity fixtures (`cut-small`, test/fixtures/reference) as any
// parity check needs it, whichever folder the fixture is read from (the tests' or the
// benchmark bundle's copy): its configuration, a model loaded with its weights, the patch
// draws the reference recorded, and the error measure for weights after Adam's first step.
import * as tf from '@tensorflow/tfjs';
import { resolveTrainOptions, type NceTap, type Preset } from '../../shared/options';
import { assignParams } from '../../main/engine/model/params';
import { CutModel } from '../../main/engine/train/cut-model';
import type { StepSampling } from '../../main/engine/train/train-step';
import type { Fixture } from './fixture';

export interface ReferenceConfig {
  ngf: number;
  ndf: number;
  n_blocks: number;
  nc: number;
  num_patches: number;
  taps: NceTap[];
  zero_grad_params: string[];
  presets: Record<Preset, { flipped: boolean }>;
}

/** The learning rate of the fixture's optimisation step. */
export const REFERENCE_LR = 2e-4;

export function referenceConfig(fx: Fixture): ReferenceConfig {
  return fx.config as unknown as ReferenceConfig;
}

/** A CUT or FastCUT model with the fixture's weights. */
export function buildReferenceModel(fx: Fixture, preset: Preset): CutModel {
  const cfg = referenceConfig(fx);
  const opts = resolveTrainOptions({
    preset,
    ngf: cfg.ngf,
    ndf: cfg.ndf,
    nBlocks: cfg.n_blocks,
    projectionDim: cfg.nc,
    numPatches: cfg.num_patches,
    nceTaps: cfg.taps,
  });
  const model = CutModel.create(opts, 1);
  for (const [net, params] of Object.entries(model.networks())) {
    const values = new Map<string, tf.Tensor>();
    for (const name of params.keys()) values.set(name, fx.param(`${net}.${name}`));
    assignParams(params, values);
    tf.dispose([...values.values()]);
  }
  return model;
}

/** The flip and patch ids the reference drew for its step. */
export function referenceSampling(fx: Fixture, preset: Preset): StepSampling {
  const cfg = referenceConfig(fx);
  return {
    flipped: cfg.presets[preset].flipped,
    ids: cfg.taps.map((t) => fx.ids(`${preset}.ids.nce.${t}`)),
    idsY: preset === 'cut' ? cfg.taps.map((t) => fx.ids(`cut.ids.nceY.${t}`)) : null,
  };
}

/**
 * Error of a weight after Adam's first step, which moves every element by ≈ lr·sign(g),
 * as a ratio to what is allowed (passes below 1): where the reference gradient is smaller
 * than `tol` its sign is not determined in float32, so there the two may differ by up to
 * 2·lr; elsewhere the relative error may reach `tol`. Caller disposes.
 */
export function stepErrorRatio(
  actual: tf.Tensor,
  expected: tf.Tensor,
  gradRef: tf.Tensor,
  tol: number,
): tf.Tensor {
  return tf.tidy(() => {
    const err = tf.div(tf.abs(tf.sub(actual, expected)), tf.maximum(tf.abs(expected), 1));
    const undetermined = tf.less(tf.abs(gradRef), tol);
    const allowed = tf.where(
      undetermined,
      tf.fill(err.shape, 2 * REFERENCE_LR * (1 + 1e-3)),
      tf.fill(err.shape, tol),
    );
    return tf.div(err, allowed);
  });
}
