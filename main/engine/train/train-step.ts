/**
 * One CUT/FastCUT optimisation step (reference: CUTModel.optimize_parameters): G translates,
 * D takes one Adam step on the detached fake, then G and H take one step on
 * λ_GAN·GAN + PatchNCE with D frozen (and updated). Returns the losses as numbers.
 */
import * as tf from '@tensorflow/tfjs';
import type { NceTap } from '../../../shared/options';
import { sliceAxis, type T4 } from '../model/layers';
import { samplePatchIds } from '../model/patch-sampler';
import { lsgan } from '../losses/gan';
import { patchNceLoss } from '../losses/patch-nce';
import type { Rng } from '../rng';
import type { CutModel } from './cut-model';

export interface StepLosses {
  D: number;
  D_real: number;
  D_fake: number;
  G: number;
  G_GAN: number;
  NCE: number;
  /** Identity PatchNCE on the target domain (CUT only). */
  NCE_Y: number | null;
}

/** The random choices of one step, drawn up front so a test can inject them. */
export interface StepSampling {
  flipped: boolean;
  /** Patch positions per tap for PatchNCE(real A, G(A)). */
  ids: Int32Array[];
  /** Positions per tap for the identity term PatchNCE(real B, G(B)), drawn separately. */
  idsY: Int32Array[] | null;
}

/** Spatial size of each tap for a generator input of h×w. */
export function tapSize(tap: NceTap, h: number, w: number): [number, number] {
  if (tap === 'input') return [h + 6, w + 6];
  if (tap === 'down1') return [h, w];
  if (tap === 'down2') return [h / 2, w / 2];
  return [h / 4, w / 4];
}

export function drawSampling(model: CutModel, h: number, w: number, rng: Rng): StepSampling {
  const o = model.opts;
  const flipped = o.flipEquivariance && rng.next() < 0.5;
  const draw = () => model.taps.map((t) => samplePatchIds(rng, ...tapSize(t, h, w), o.numPatches));
  const ids = draw();
  const idsY = o.nceIdt ? draw() : null;
  return { flipped, ids, idsY };
}

export function trainStep(
  model: CutModel,
  realA: T4,
  realB: T4,
  sampling: StepSampling,
): StepLosses {
  const { G, D, opts } = model;
  const batch = realA.shape[0];
  const useIdt = opts.nceIdt && opts.lambdaNCE > 0;
  // G sees A (and B for the identity term), flipped along width for flip equivariance.
  const realG = tf.tidy(() => {
    const both = useIdt ? tf.concat([realA, realB], 0) : realA;
    return sampling.flipped ? tf.reverse(both, 2) : both;
  });

  // D step on the detached fake.
  const fakeB = tf.tidy(() => sliceAxis(G.forward(realG), 0, 0, batch));
  const dParts: tf.Scalar[] = [];
  const dStep = tf.variableGrads(() => {
    const fake = lsgan(D.forward(fakeB), false);
    const real = lsgan(D.forward(realB), true);
    dParts.push(tf.keep(fake), tf.keep(real));
    return tf.mul(tf.add(fake, real), 0.5) as tf.Scalar;
  }, model.optD.variables());
  model.optD.apply(dStep.grads);
  tf.dispose([fakeB, dStep.grads]);

  // Keys: source features through H, outside the tape (the reference detaches them).
  const keys = tf.tidy(() => projectKeys(model, realA, sampling.ids));
  const keysY = useIdt ? tf.tidy(() => projectKeys(model, realB, sampling.idsY ?? [])) : null;

  const gParts: tf.Scalar[] = [];
  const varList = [
    ...model.optG.variables(),
    ...(opts.lambdaNCE > 0 ? model.optH.variables() : []),
  ];
  const gStep = tf.variableGrads(() => {
    const fakeAll = G.forward(realG);
    const fake = sliceAxis(fakeAll, 0, 0, batch);
    const gan = tf.mul(lsgan(D.forward(fake), true), opts.lambdaGAN) as tf.Scalar;
    let nceTotal: tf.Scalar = tf.scalar(0);
    let nce: tf.Scalar = tf.scalar(0);
    let nceY: tf.Scalar | null = null;
    if (opts.lambdaNCE > 0) {
      nce = nceLoss(model, fake, keys, sampling.ids, sampling.flipped);
      nceTotal = nce;
      if (useIdt && keysY && sampling.idsY) {
        const idt = sliceAxis(fakeAll, 0, batch, batch);
        nceY = nceLoss(model, idt, keysY, sampling.idsY, sampling.flipped);
        nceTotal = tf.mul(tf.add(nce, nceY), 0.5);
      }
    }
    gParts.push(tf.keep(gan), tf.keep(nce));
    if (nceY) gParts.push(tf.keep(nceY));
    return tf.add(gan, nceTotal) as tf.Scalar;
  }, varList);
  const gradsG: tf.NamedTensorMap = {};
  const gradsH: tf.NamedTensorMap = {};
  const gNames = new Set(model.optG.variables().map((v) => v.name));
  for (const [name, g] of Object.entries(gStep.grads))
    (gNames.has(name) ? gradsG : gradsH)[name] = g;
  model.optG.apply(gradsG);
  if (opts.lambdaNCE > 0) model.optH.apply(gradsH);

  const [dFake, dReal] = dParts.map((t) => t.dataSync()[0]);
  const [gGan, gNce, gNceY] = gParts.map((t) => t.dataSync()[0]);
  const losses: StepLosses = {
    D: dStep.value.dataSync()[0],
    D_real: dReal,
    D_fake: dFake,
    G: gStep.value.dataSync()[0],
    G_GAN: gGan,
    NCE: gNce,
    NCE_Y: gNceY ?? null,
  };
  tf.dispose([realG, dStep.value, gStep.value, gStep.grads, keys, ...dParts, ...gParts]);
  if (keysY) tf.dispose(keysY);
  return losses;
}

/** H(G.encode(src)) at the given positions: one [B·np, dim] key matrix per tap. */
export function projectKeys(model: CutModel, src: T4, ids: Int32Array[]): tf.Tensor2D[] {
  const feats = model.G.encode(src, model.taps);
  return feats.map((f, i) => model.H.project(i, f, ids[i]));
}

/**
 * PatchNCE summed over taps and divided by their number, times λ_NCE: queries from the
 * translated image's encoder features (flipped back when the input was flipped).
 */
export function nceLoss(
  model: CutModel,
  translated: T4,
  keys: tf.Tensor2D[],
  ids: Int32Array[],
  flipped: boolean,
): tf.Scalar {
  const { opts, taps } = model;
  const batch = translated.shape[0];
  const groups = opts.minibatchNegatives ? 1 : batch;
  const feats = model.G.encode(translated, taps);
  const perTap = feats.map((f, i) => {
    const q = model.H.project(i, flipped ? tf.reverse(f, 2) : f, ids[i]);
    return tf.mul(tf.mean(patchNceLoss(q, keys[i], opts.nceT, groups)), opts.lambdaNCE);
  });
  return tf.div(tf.addN(perTap), taps.length) as tf.Scalar;
}
