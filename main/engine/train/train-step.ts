/**
 * One CUT/FastCUT optimisation step (reference: CUTModel.optimize_parameters): G translates,
 * D takes one Adam step on the detached fake, then G and H take one step on
 * λ_GAN·GAN + PatchNCE with D frozen (and updated). Returns the losses as numbers.
 */
import * as tf from '@tensorflow/tfjs';
import type { TrainLosses } from '../../../shared/jobs';
import type { NceTap } from '../../../shared/options';
import { sliceAxis, type T4 } from '../model/layers';
import { lsgan } from '../losses/gan';
import { patchNceLoss } from '../losses/patch-nce';
import type { Rng } from '../rng';
import type { CutModel } from './cut-model';
import type { Net } from './trained-networks';
import { readLater, type StepHalf } from './pending-half';

/** One step's losses: the contract's type, so events carry them unchanged. */
export type StepLosses = TrainLosses;

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

/**
 * Positions for one tap (reference: PatchSampleF's patch_id): `numPatches` of H·W uniformly
 * without replacement, NHWC raster order (all of them if fewer).
 */
export function samplePatchIds(
  rng: Rng,
  height: number,
  width: number,
  numPatches: number,
): Int32Array {
  return rng.sampleWithoutReplacement(height * width, numPatches);
}

export function drawSampling(model: CutModel, h: number, w: number, rng: Rng): StepSampling {
  const o = model.opts;
  const flipped = o.flipEquivariance && rng.next() < 0.5;
  const draw = () => model.taps.map((t) => samplePatchIds(rng, ...tapSize(t, h, w), o.numPatches));
  const ids = draw();
  const idsY = o.nceIdt ? draw() : null;
  return { flipped, ids, idsY };
}

export type { StepHalf } from './pending-half';

/**
 * G's input: A (and B for the identity term), flipped along width for flip equivariance.
 * Always a new tensor, so the caller's inputs are never disposed with it.
 */
function generatorInput(model: CutModel, realA: T4, realB: T4, flipped: boolean): T4 {
  return tf.tidy(() => {
    const both = useIdentity(model) ? tf.concat([realA, realB], 0) : realA.clone();
    return flipped ? tf.reverse(both, 2) : both;
  });
}

function useIdentity(model: CutModel): boolean {
  return model.opts.nceIdt && model.opts.lambdaNCE > 0;
}

type DLosses = Pick<StepLosses, 'D' | 'D_real' | 'D_fake'>;
type GLosses = Pick<StepLosses, 'G' | 'G_GAN' | 'NCE' | 'NCE_Y'>;

/** D's half: ½(MSE(D(fake), 0) + MSE(D(real B), 1)) on the detached fake, and its gradients. */
export function discriminatorGradsAsync(
  model: CutModel,
  realA: T4,
  realB: T4,
  sampling: StepSampling,
): Promise<StepHalf<DLosses>> {
  const { G, D } = model;
  const batch = realA.shape[0];
  model.fitMemoryTo(batch * (useIdentity(model) ? 2 : 1), realA.shape[1], realA.shape[2]);
  const fakeB = tf.tidy(() => {
    const realG = generatorInput(model, realA, realB, sampling.flipped);
    return sliceAxis(G.forward(realG), 0, 0, batch);
  });
  // Assigned inside variableGrads, which calls its function before it returns.
  let fake!: tf.Scalar;
  let real!: tf.Scalar;
  const { value, grads } = tf.variableGrads(() => {
    fake = tf.keep(lsgan(D.forward(fakeB), false));
    real = tf.keep(lsgan(D.forward(realB), true));
    return tf.mul(tf.add(fake, real), 0.5) as tf.Scalar;
  }, model.optD.variables());
  tf.dispose(fakeB);
  return readLater<DLosses>({ losses: { D: value, D_real: real, D_fake: fake }, grads });
}

/**
 * G and H's half: λ_GAN·MSE(D(G(A)), 1) + PatchNCE (averaged with the identity term for CUT),
 * with D frozen; gradients for G and, when PatchNCE is on, H.
 */
export function generatorGradsAsync(
  model: CutModel,
  realA: T4,
  realB: T4,
  sampling: StepSampling,
): Promise<StepHalf<GLosses>> {
  const { G, D, opts } = model;
  const batch = realA.shape[0];
  const idt = useIdentity(model);
  model.fitMemoryTo(batch * (idt ? 2 : 1), realA.shape[1], realA.shape[2]);
  const realG = generatorInput(model, realA, realB, sampling.flipped);
  // Keys: source features through H, outside the tape (the reference detaches them).
  const keys = tf.tidy(() => model.projectKeys(realA, sampling.ids));
  const keysY = idt ? tf.tidy(() => model.projectKeys(realB, sampling.idsY ?? [])) : null;
  const varList = [
    ...model.optG.variables(),
    ...(opts.lambdaNCE > 0 ? model.optH.variables() : []),
  ];
  // Assigned inside variableGrads, which calls its function before it returns.
  let gan!: tf.Scalar;
  let nce!: tf.Scalar;
  let nceY: tf.Scalar | null = null;
  const { value, grads } = tf.variableGrads(() => {
    const fakeAll = G.forward(realG);
    const fake = sliceAxis(fakeAll, 0, 0, batch);
    gan = tf.keep(tf.mul(lsgan(D.forward(fake), true), opts.lambdaGAN) as tf.Scalar);
    const withNce = opts.lambdaNCE > 0;
    nce = tf.keep(
      withNce ? nceLoss(model, fake, keys, sampling.ids, sampling.flipped) : tf.scalar(0),
    );
    let nceTotal = nce;
    if (withNce && keysY && sampling.idsY) {
      const identity = sliceAxis(fakeAll, 0, batch, batch);
      nceY = tf.keep(nceLoss(model, identity, keysY, sampling.idsY, sampling.flipped));
      nceTotal = tf.mul(tf.add(nce, nceY), 0.5);
    }
    return tf.add(gan, nceTotal) as tf.Scalar;
  }, varList);
  tf.dispose([realG, keys]);
  if (keysY) tf.dispose(keysY);
  return readLater<GLosses>({ losses: { G: value, G_GAN: gan, NCE: nce, NCE_Y: nceY }, grads });
}

/**
 * One full step: D update, then G and H update against the updated D. The losses are read
 * with `await tensor.data()`, which every backend has (webgpu has no synchronous read in Node).
 */
export async function trainStepAsync(
  model: CutModel,
  realA: T4,
  realB: T4,
  sampling: StepSampling,
): Promise<StepLosses> {
  return model.step(
    () => discriminatorGradsAsync(model, realA, realB, sampling),
    () => generatorGradsAsync(model, realA, realB, sampling),
  );
}

/** Gradients of the G+H half split by network, keyed by reference parameter name. */
export function gradsByName(
  model: CutModel,
  grads: tf.NamedTensorMap,
): Record<Net, Map<string, tf.Tensor>> {
  const out = {
    G: new Map<string, tf.Tensor>(),
    D: new Map<string, tf.Tensor>(),
    H: new Map<string, tf.Tensor>(),
  };
  for (const [net, params] of Object.entries(model.networks()) as [
    Net,
    Map<string, tf.Variable>,
  ][]) {
    for (const [name, v] of params) {
      const g = grads[v.name];
      if (g) out[net].set(name, g);
    }
  }
  return out;
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
