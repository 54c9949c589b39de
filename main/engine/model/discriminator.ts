/**
 * The 70×70 PatchGAN discriminator of the reference (models/networks.py, NLayerDiscriminator
 * with anti-aliased downsampling): conv4 (stride 1, zero pad 1) → LeakyReLU 0.2 → blur-down,
 * then [conv4 → IN → LReLU → blur-down] × (n−1), conv4 → IN → LReLU, conv4 → 1 logit map.
 * No sigmoid (LSGAN). Parameter names follow the reference's `model.<index>`.
 */
import * as tf from '@tensorflow/tfjs';
import { minDiscriminatorSide } from '../../../shared/geometry';
import type { Rng } from '../rng';
import { blurDownsample, conv2d, instanceNorm, type T4 } from './layers';
import { conv, initParams, type ParamSet, type ParamSpec } from './params';
import { runStage, type SegmentMode } from './recompute';

export interface DiscriminatorConfig {
  ndf: number;
  nLayers: number;
  inputChannels?: number;
}

interface DLayer {
  name: string;
  cin: number;
  cout: number;
  norm: boolean;
  down: boolean;
  act: boolean;
}

/** The layer plan, with the reference's Sequential indices as names. */
export function discriminatorLayers(cfg: DiscriminatorConfig): DLayer[] {
  const { ndf, nLayers } = cfg;
  const layers: DLayer[] = [
    { name: 'model.0', cin: cfg.inputChannels ?? 3, cout: ndf, norm: false, down: true, act: true },
  ];
  let index = 3;
  let prev = 1;
  for (let n = 1; n < nLayers; n++) {
    const mult = Math.min(2 ** n, 8);
    layers.push({
      name: `model.${index}`,
      cin: ndf * prev,
      cout: ndf * mult,
      norm: true,
      down: true,
      act: true,
    });
    index += 4;
    prev = mult;
  }
  const mult = Math.min(2 ** nLayers, 8);
  layers.push({
    name: `model.${index}`,
    cin: ndf * prev,
    cout: ndf * mult,
    norm: true,
    down: false,
    act: true,
  });
  layers.push({
    name: `model.${index + 3}`,
    cin: ndf * mult,
    cout: 1,
    norm: false,
    down: false,
    act: false,
  });
  return layers;
}

export function discriminatorSpecs(cfg: DiscriminatorConfig): ParamSpec[] {
  return discriminatorLayers(cfg).flatMap((l) => conv(l.name, 4, l.cin, l.cout));
}

export class PatchDiscriminator {
  private readonly layers: DLayer[];
  /** How each layer runs (see ResnetGenerator.segmentMode): same values, less memory. */
  segmentMode: SegmentMode = 'tidied';

  constructor(
    readonly config: DiscriminatorConfig,
    readonly params: ParamSet,
  ) {
    this.layers = discriminatorLayers(config);
  }

  static create(cfg: DiscriminatorConfig, initGain: number, rng: Rng): PatchDiscriminator {
    return new PatchDiscriminator(cfg, initParams(discriminatorSpecs(cfg), initGain, rng));
  }

  /** [B, H, W, 3] → patch logits [B, h, w, 1] (h ≈ H/8 − 2 for 3 layers). */
  forward(x: T4): T4 {
    const [, h, w] = x.shape;
    const min = minDiscriminatorSide(this.config.nLayers);
    if (h < min || w < min) {
      // An empty patch map would make every loss a mean over nothing (garbage, not an error).
      throw new RangeError(
        `the ${this.config.nLayers}-layer discriminator needs images of at least ${min}×${min}, got ${h}×${w}`,
      );
    }
    return tf.tidy(() => {
      let h = x;
      for (const l of this.layers) {
        h = runStage(this.segmentMode, this.params, [l.name], (t) => this.layer(t, l), h);
      }
      return h;
    });
  }

  private layer(x: T4, l: DLayer): T4 {
    let h = conv2d(x, this.params, l.name, 1); // kernel 4, zero pad 1: side − 1
    if (l.norm) h = instanceNorm(h);
    if (l.act) h = tf.leakyRelu(h, 0.2);
    return l.down ? blurDownsample(h) : h;
  }
}
