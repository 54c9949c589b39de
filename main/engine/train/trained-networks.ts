/**
 * What CUT's and SinCUT's trainers share (reference: models/cut_model.py, which
 * sincut_model.py extends): a generator G, a discriminator D and the projection head H, one
 * Adam per network with the options' learning rate and betas, and the keys PatchNCE compares
 * against. Each model (cut-model.ts, sincut-model.ts) says which networks and how it fits memory.
 */
import * as tf from '@tensorflow/tfjs';
import type { NceTap } from '../../../shared/options';
import type { T4 } from '../model/layers';
import type { ProjectionHead } from '../model/projection-head';
import { disposeParams, type ParamSet } from '../model/params';
import type { SegmentMode } from '../model/recompute';
import { Adam } from './adam';
import type { StepHalf } from './pending-half';

/** The options both presets' trainers read here. */
export interface NetworkOptions {
  nceTaps: readonly string[];
  lr: number;
  beta1: number;
  beta2: number;
  lambdaNCE: number;
}

export interface TrainedNetwork {
  params: ParamSet;
}

/** A generator whose encoder PatchNCE taps. */
export interface EncodingGenerator extends TrainedNetwork {
  encode(x: T4, taps: readonly NceTap[]): T4[];
}

export type Net = 'G' | 'D' | 'H';

export abstract class TrainedNetworks<
  O extends NetworkOptions,
  G extends EncodingGenerator,
  D extends TrainedNetwork,
> {
  readonly taps: NceTap[];
  readonly optG: Adam;
  readonly optD: Adam;
  readonly optH: Adam;
  /** `auto` lets `fitMemoryTo` choose by size; a mode forces it (benchmarks, tests). */
  segmentPolicy: 'auto' | SegmentMode = 'auto';

  constructor(
    readonly opts: O,
    readonly G: G,
    readonly D: D,
    readonly H: ProjectionHead,
  ) {
    this.taps = opts.nceTaps as NceTap[];
    const adam = { lr: opts.lr, beta1: opts.beta1, beta2: opts.beta2 };
    this.optG = new Adam(G.params, adam);
    this.optD = new Adam(D.params, adam);
    this.optH = new Adam(H.params, adam);
  }

  /** How the networks run their stages for a generator input of batch × h × w. */
  abstract fitMemoryTo(batch: number, h: number, w: number): SegmentMode;

  setLearningRate(lr: number): void {
    for (const o of [this.optG, this.optD, this.optH]) o.lr = lr;
  }

  /** Every parameter set by network, for checkpoints. */
  networks(): Record<Net, ParamSet> {
    return { G: this.G.params, D: this.D.params, H: this.H.params };
  }

  /** H(G.encode(src)) at the given positions: one [B·np, dim] key matrix per tap. */
  projectKeys(src: T4, ids: Int32Array[]): tf.Tensor2D[] {
    const feats = this.G.encode(src, this.taps);
    return feats.map((f, i) => this.H.project(i, f, ids[i]));
  }

  /** D's Adam step; disposes the gradients. */
  applyD(grads: tf.NamedTensorMap): void {
    this.optD.apply(grads);
    tf.dispose(grads);
  }

  /**
   * G's and H's Adam steps from the G+H half's gradients (H's only while PatchNCE is on, as
   * H has no gradient otherwise); disposes the gradients.
   */
  applyGH(grads: tf.NamedTensorMap): void {
    const gNames = new Set(this.optG.variables().map((v) => v.name));
    const byNet: Record<'G' | 'H', tf.NamedTensorMap> = { G: {}, H: {} };
    for (const [name, g] of Object.entries(grads)) byNet[gNames.has(name) ? 'G' : 'H'][name] = g;
    this.optG.apply(byNet.G);
    if (this.opts.lambdaNCE > 0) this.optH.apply(byNet.H);
    tf.dispose(grads);
  }

  /**
   * One full step from its two halves: D's gradients and update, then G's and H's against the
   * updated D. Returns both halves' losses; leaves no tensor behind.
   */
  async step<LD, LG>(
    dHalf: () => Promise<StepHalf<LD>>,
    ghHalf: () => Promise<StepHalf<LG>>,
  ): Promise<LD & LG> {
    const d = await dHalf();
    this.applyD(d.grads);
    const g = await ghHalf();
    this.applyGH(g.grads);
    return { ...d.losses, ...g.losses };
  }

  dispose(): void {
    for (const o of [this.optG, this.optD, this.optH]) o.dispose();
    for (const p of Object.values(this.networks())) disposeParams(p);
  }
}
