/**
 * One SinCUT optimisation step (reference: CUTModel.optimize_parameters with SinCUTModel's
 * losses). G translates A and B together (B for the identity terms) with one noise draw; D
 * takes one Adam step on ½(softplus(D(fake)) + softplus(−D(real))) + R1 on the real windows;
 * then G and H take one step on λ_GAN·softplus(−D(fake)) + ½(PatchNCE(A) + PatchNCE(B)) +
 * λ_idt·L1(G(B), B) against the updated D. PatchNCE takes its negatives from the whole
 * minibatch. D judges a dPatch² window of each crop, at a fresh random offset per call.
 */
import * as tf from '@tensorflow/tfjs';
import type { TrainLosses } from '../../../shared/jobs';
import type { NceTap } from '../../../shared/options';
import { sliceAxis, type T4 } from '../model/layers';
import { nonSaturating } from '../losses/nonsaturating';
import { patchNceLossRows } from '../losses/patch-nce';
import { r1Penalty } from '../losses/r1';
import { StyleGan2Generator } from '../model/stylegan2-generator';
import { accumulate, readLater, type StepHalf } from './pending-half';
import type { Rng } from '../rng';
import type { SinCutModel } from './sincut-model';
import { samplePatchIds, tapSize } from './train-step';

export interface SinCutLosses extends TrainLosses {
  D_R1: number;
  idt: number;
}

type Offset = [number, number];

/** The random choices of one step, drawn up front (tests inject them). */
export interface SinCutSampling {
  ids: Int32Array[];
  idsY: Int32Array[] | null;
  /** [Bg, H, W, 1] standard normals for G's noise input (null: the ResNet generator). */
  noise: Float32Array | null;
  /** Top-left corners of D's windows: on the fake for D's step, the real, the fake for G's. */
  windows: { fakeD: Offset; realD: Offset; fakeG: Offset };
}

export function usesB(model: SinCutModel): boolean {
  const o = model.opts;
  return (o.nceIdt && o.lambdaNCE > 0) || o.lambdaIdt > 0;
}

function tapSide(model: SinCutModel, tap: NceTap, h: number, w: number): [number, number] {
  if (model.G instanceof StyleGan2Generator) return tap === 'input' ? [h, w] : [h / 2, w / 2];
  return tapSize(tap, h, w);
}

export function drawSinCutSampling(
  model: SinCutModel,
  batch: number,
  h: number,
  w: number,
  rng: Rng,
): SinCutSampling {
  const o = model.opts;
  const draw = () =>
    model.taps.map((t) => samplePatchIds(rng, ...tapSide(model, t, h, w), o.numPatches));
  const ids = draw();
  const idsY = o.nceIdt && o.lambdaNCE > 0 ? draw() : null;
  let noise: Float32Array | null = null;
  if (model.G instanceof StyleGan2Generator) {
    noise = new Float32Array(batch * (usesB(model) ? 2 : 1) * h * w);
    for (let i = 0; i < noise.length; i++) noise[i] = rng.normal();
  }
  const corner = (): Offset => [rng.int(h - o.dPatch + 1), rng.int(w - o.dPatch + 1)];
  return { ids, idsY, noise, windows: { fakeD: corner(), realD: corner(), fakeG: corner() } };
}

/** D's dPatch² window of every image at `at`. */
function window(model: SinCutModel, x: T4, at: Offset): T4 {
  const p = model.opts.dPatch;
  if (x.shape[1] === p && x.shape[2] === p) return x;
  return tf.slice(x, [0, at[0], at[1], 0], [-1, p, p, -1]);
}

/**
 * G's noise input for this step, [Bg, H, W, 1]. It must outlive the gradient computation: with
 * recomputed segments the backward pass runs the upsampling stage again and reads it.
 */
function noiseTensor(model: SinCutModel, realA: T4, s: SinCutSampling): T4 | null {
  if (!s.noise) return null;
  const [b, h, w] = realA.shape;
  return tf.tensor4d(s.noise, [b * (usesB(model) ? 2 : 1), h, w, 1]);
}

function generate(model: SinCutModel, realA: T4, realB: T4, noise: T4 | null): T4 {
  return tf.tidy(() => {
    const x = usesB(model) ? tf.concat([realA, realB], 0) : realA;
    return model.generate(x, noise);
  });
}

/**
 * Images per pass of D's half. R1's double backward keeps a long tape per image (about
 * 450 MiB per 64² window on wasm), so the batch goes through D in chunks whose gradients are
 * summed: D judges every image on its own (no minibatch statistics), so each loss is a sum of
 * per-chunk terms and the result equals one pass over the batch, up to summation order.
 */
export function dChunk(model: SinCutModel): number {
  if (model.dChunk !== null) return model.dChunk;
  return Math.max(1, Math.floor((4 * 64 * 64) / model.opts.dPatch ** 2));
}

type DLosses = Pick<SinCutLosses, 'D' | 'D_real' | 'D_fake' | 'D_R1'>;
type GLosses = Pick<SinCutLosses, 'G' | 'G_GAN' | 'NCE' | 'NCE_Y' | 'idt'>;

/** D's half: its losses and gradients (D's weights only), G's fake detached. */
export function sincutDiscriminatorGrads(
  model: SinCutModel,
  realA: T4,
  realB: T4,
  s: SinCutSampling,
): Promise<StepHalf<DLosses>> {
  const batch = realA.shape[0];
  const noise = noiseTensor(model, realA, s);
  // G(A) only (A's noise is the first `batch` of the draw), in G's chunks, without a tape.
  const step = Math.min(batch, gChunk(model, realA.shape[1]));
  model.fitMemoryTo(step, realA.shape[1], realA.shape[2]);
  const pieces: T4[] = [];
  for (let at = 0; at < batch; at += step) {
    const n = Math.min(step, batch - at);
    pieces.push(
      tf.tidy(() => {
        const z = noise ? sliceAxis(noise, 0, at, n) : null;
        return window(model, model.generate(sliceAxis(realA, 0, at, n), z), s.windows.fakeD);
      }),
    );
  }
  noise?.dispose();
  const fakeB = pieces.length === 1 ? pieces[0] : tf.concat(pieces, 0);
  if (pieces.length > 1) tf.dispose(pieces);
  const realWin = tf.tidy(() => tf.clone(window(model, realB, s.windows.realD)));
  let summed: Summed<DTerm>;
  try {
    summed = overChunks(batch, dChunk(model), (at, n) => {
      const part = tf.tidy(() => [sliceAxis(fakeB, 0, at, n), sliceAxis(realWin, 0, at, n)]);
      try {
        return dChunkGrads(model, part[0] as T4, part[1] as T4, n / batch);
      } finally {
        tf.dispose(part);
      }
    });
  } finally {
    tf.dispose([fakeB, realWin]);
  }
  const { sums, grads } = summed;
  const { D, D_real, D_fake, D_R1 } = sums;
  if (!D || !D_real || !D_fake || !D_R1) throw new RangeError('an empty batch has no D step');
  return readLater<DLosses>({ losses: { D, D_real, D_fake, D_R1 }, grads });
}

type DTerm = keyof DLosses;

/** Loss terms by name and gradients by variable, on the device. */
interface Summed<K extends string> {
  sums: Partial<Record<K, tf.Scalar>>;
  grads: tf.NamedTensorMap;
}

/**
 * `chunkGrads` over the batch in chunks of `chunk` images (each weighting its terms by its
 * share), every term and gradient summed on the device, so the values are read once at the end.
 */
function overChunks<K extends string>(
  batch: number,
  chunk: number,
  chunkGrads: (
    at: number,
    n: number,
  ) => { terms: Partial<Record<K, tf.Scalar>>; grads: tf.NamedTensorMap },
): Summed<K> {
  let sums: Partial<Record<K, tf.Scalar>> = {};
  let grads: tf.NamedTensorMap = {};
  try {
    for (let at = 0; at < batch; at += chunk) {
      const part = chunkGrads(at, Math.min(chunk, batch - at));
      sums = addTerms(sums, part.terms);
      grads = accumulate(grads, part.grads);
    }
  } catch (err) {
    const kept = (Object.keys(sums) as K[]).flatMap((k) => sums[k] ?? []);
    tf.dispose([...kept, ...Object.values(grads)]);
    throw err;
  }
  return { sums, grads };
}

/**
 * a + b per term, disposing both; a term missing from `a` (the first chunk) is b's. Both
 * sides have the same terms: every chunk computes the same ones.
 */
function addTerms<K extends string>(
  a: Partial<Record<K, tf.Scalar>>,
  b: Partial<Record<K, tf.Scalar>>,
): Partial<Record<K, tf.Scalar>> {
  const out: Partial<Record<K, tf.Scalar>> = {};
  for (const [k, v] of Object.entries(b) as [K, tf.Scalar][]) {
    const old = a[k];
    out[k] = old ? (tf.add(old, v) as tf.Scalar) : v;
    if (old) tf.dispose([old, v]);
  }
  return out;
}

/** D's loss terms on a chunk, each weighted by the chunk's share of the batch. */
function dChunkGrads(model: SinCutModel, fake: T4, real: T4, share: number) {
  const { D, opts } = model;
  // Assigned inside variableGrads, which calls its function before it returns.
  let f!: tf.Scalar;
  let r!: tf.Scalar;
  let r1!: tf.Scalar;
  const { value, grads } = tf.variableGrads(() => {
    f = tf.keep(tf.mul(nonSaturating(D.forward(fake), false), share) as tf.Scalar);
    if (opts.lambdaR1 > 0) {
      const { penalty, logits } = r1Penalty((x) => D.forward(x), real, opts.lambdaR1);
      r = tf.keep(tf.mul(nonSaturating(logits, true), share) as tf.Scalar);
      r1 = tf.keep(tf.mul(penalty, share) as tf.Scalar);
    } else {
      r = tf.keep(tf.mul(nonSaturating(D.forward(real), true), share) as tf.Scalar);
      r1 = tf.keep(tf.scalar(0));
    }
    return tf.add(tf.mul(tf.add(f, r), 0.5), r1) as tf.Scalar;
  }, model.optD.variables());
  const terms: Record<DTerm, tf.Scalar> = { D: value, D_real: r, D_fake: f, D_R1: r1 };
  return { terms, grads };
}

/** G's terms by loss name; G is the total. */
type GTerm = keyof GLosses;

/**
 * Images per pass of G's half. At the reference setting (16 crops of 64², G on 32 of them with
 * the identity half, widths 80/160) one pass does not fit the wasm backend's 4 GiB heap; 4
 * images of 64² at width 80 do. Every term of G's loss is a sum of per-image terms (G and D
 * see each image on its own; PatchNCE's keys are constants and each query's loss needs only
 * its own row), so chunks of images with summed gradients equal one pass, up to summation order.
 */
export function gChunk(model: SinCutModel, crop: number): number {
  if (model.gChunk !== null) return model.gChunk;
  const width = model.G instanceof StyleGan2Generator ? model.G.config.c0 : model.opts.ngf;
  return Math.max(1, Math.floor((4 * 64 * 64 * 80) / (crop * crop * width)));
}

/** G and H's half against the current D: losses and gradients of G (and H with PatchNCE). */
export function sincutGeneratorGrads(
  model: SinCutModel,
  realA: T4,
  realB: T4,
  s: SinCutSampling,
): Promise<StepHalf<GLosses>> {
  const { opts } = model;
  const batch = realA.shape[0];
  const nce = opts.lambdaNCE > 0;
  // Keys from the sources, outside the tape (the reference detaches them).
  const keys = nce ? tf.tidy(() => model.projectKeys(realA, s.ids)) : [];
  const keysY = nce && s.idsY ? tf.tidy(() => model.projectKeys(realB, s.idsY ?? [])) : null;
  const noise = noiseTensor(model, realA, s);
  const chunk = Math.min(batch, gChunk(model, realA.shape[1]));
  let summed: Summed<GTerm>;
  try {
    summed = overChunks(batch, chunk, (at, n) =>
      generatorChunk(model, { realA, realB, noise, keys, keysY, s }, at, n),
    );
  } finally {
    tf.dispose([...keys, ...(keysY ?? [])]);
    noise?.dispose();
  }
  const { sums, grads } = summed;
  const { G, G_GAN, NCE, NCE_Y, idt } = sums;
  if (!G) throw new RangeError('an empty batch has no G step');
  // A term that is off this run reads as 0, except NCE_Y: null says "not computed".
  const losses = { G, G_GAN: G_GAN ?? 0, NCE: NCE ?? 0, NCE_Y: NCE_Y ?? null, idt: idt ?? 0 };
  return readLater<GLosses>({ losses, grads });
}

interface GInputs {
  realA: T4;
  realB: T4;
  /** [Bg, H, W, 1]: A's images, then B's. */
  noise: T4 | null;
  keys: tf.Tensor2D[];
  keysY: tf.Tensor2D[] | null;
  s: SinCutSampling;
}

/**
 * Images [at, at + n) of G's half: each term weighted by the chunk's share of the batch, so
 * the chunks' sums are the batch's means. Gradients of G (and H with PatchNCE).
 */
function generatorChunk(model: SinCutModel, x: GInputs, at: number, n: number) {
  const { D, opts } = model;
  const batch = x.realA.shape[0];
  const share = n / batch;
  const withB = usesB(model);
  const nce = opts.lambdaNCE > 0;
  model.fitMemoryTo(n * (withB ? 2 : 1), x.realA.shape[1], x.realA.shape[2]);
  const a = tf.tidy(() => sliceAxis(x.realA, 0, at, n));
  const b = tf.tidy(() => sliceAxis(x.realB, 0, at, n));
  const noiseAll = x.noise;
  const noise = noiseAll
    ? tf.tidy(() =>
        withB
          ? tf.concat([sliceAxis(noiseAll, 0, at, n), sliceAxis(noiseAll, 0, batch + at, n)], 0)
          : sliceAxis(noiseAll, 0, at, n),
      )
    : null;
  const varList = [...model.optG.variables(), ...(nce ? model.optH.variables() : [])];
  const terms: Partial<Record<GTerm, tf.Scalar>> = {};
  try {
    const { value, grads } = tf.variableGrads(() => {
      const all = generate(model, a, b, noise);
      const fake = sliceAxis(all, 0, 0, n);
      const gan = tf.mul(
        nonSaturating(D.forward(window(model, fake, x.s.windows.fakeG)), true),
        opts.lambdaGAN * share,
      ) as tf.Scalar;
      let total: tf.Scalar = gan;
      terms.G_GAN = tf.keep(gan);
      if (nce) {
        const rows = at * opts.numPatches;
        const q = tf.mul(nceLoss(model, fake, x.keys, x.s.ids, rows), share) as tf.Scalar;
        terms.NCE = tf.keep(q);
        let both = q;
        if (x.keysY && x.s.idsY) {
          const y = nceLoss(model, sliceAxis(all, 0, n, n), x.keysY, x.s.idsY, rows);
          terms.NCE_Y = tf.keep(tf.mul(y, share) as tf.Scalar);
          both = tf.mul(tf.add(q, terms.NCE_Y), 0.5);
        }
        total = tf.add(total, both);
      }
      if (withB && opts.lambdaIdt > 0) {
        const idt = sliceAxis(all, 0, n, n);
        const l1 = tf.mul(tf.mean(tf.abs(tf.sub(idt, b))), opts.lambdaIdt * share) as tf.Scalar;
        terms.idt = tf.keep(l1);
        total = tf.add(total, l1);
      }
      return total;
    }, varList);
    terms.G = value;
    return { terms, grads };
  } catch (err) {
    tf.dispose(Object.values(terms));
    throw err;
  } finally {
    tf.dispose([a, b, ...(noise ? [noise] : [])]);
  }
}

/**
 * One full step: D update, then G and H against the updated D. Leaves no tensor behind. The
 * losses are read once per half (`await data()`), so it runs on every backend, webgpu included.
 */
export async function sincutTrainStep(
  model: SinCutModel,
  realA: T4,
  realB: T4,
  s: SinCutSampling,
): Promise<SinCutLosses> {
  return model.step(
    () => sincutDiscriminatorGrads(model, realA, realB, s),
    () => sincutGeneratorGrads(model, realA, realB, s),
  );
}

/**
 * PatchNCE over the taps (mean), times λ_NCE, negatives from the whole minibatch: the
 * translated images are rows `rows`… of the minibatch whose keys are `keys` (all of them).
 */
function nceLoss(
  model: SinCutModel,
  translated: T4,
  keys: tf.Tensor2D[],
  ids: Int32Array[],
  rows: number,
) {
  const { opts } = model;
  const feats = model.G.encode(translated, model.taps);
  const perTap = feats.map((f, i) => {
    const q = model.H.project(i, f, ids[i]);
    return tf.mul(tf.mean(patchNceLossRows(q, keys[i], opts.nceT, rows)), opts.lambdaNCE);
  });
  return tf.div(tf.addN(perTap), perTap.length) as tf.Scalar;
}
