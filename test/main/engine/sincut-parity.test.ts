// Parity of SinCUT's networks and losses with the PyTorch statement in test/fixtures/sincut:
// the StyleGAN2 generator (with given noise) and its encoder taps, the discriminator, the
// non-saturating loss, and the R1 penalty with its gradient for every D weight (a second
// derivative). Worst errors per check and backend are printed at the end.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveSinCutOptions, type NceTap } from '../../../shared/options';
import { initBackend, type BackendName } from '../../../main/engine/backend';
import { nonSaturating } from '../../../main/engine/losses/nonsaturating';
import { r1Penalty } from '../../../main/engine/losses/r1';
import { assignParams, disposeParams, type ParamSet } from '../../../main/engine/model/params';
import {
  StyleGan2Discriminator,
  styleGan2DiscriminatorSpecs,
} from '../../../main/engine/model/stylegan2-discriminator';
import {
  StyleGan2Generator,
  styleGan2GeneratorSpecs,
} from '../../../main/engine/model/stylegan2-generator';
import { initEqualised } from '../../../main/engine/model/stylegan2-layers';
import { ProjectionHead } from '../../../main/engine/model/patch-sampler';
import { SinCutModel } from '../../../main/engine/train/sincut-model';
import {
  sincutDiscriminatorGrads,
  sincutGeneratorGrads,
  sincutTrainStep,
  type SinCutSampling,
} from '../../../main/engine/train/sincut-step';
import { Rng } from '../../../main/engine/rng';
import { Fixture, relError } from '../../support/fixture';

const TOL = 1e-4;
const fx = Fixture.load('sincut-small', 'sincut');
const cfg = fx.config as {
  g: { c0: number; c1: number; n_blocks: number };
  d: { ndf: number; size: number };
  taps: NceTap[];
  losses: { lambda_r1: number };
};

/** Networks with the fixture's weights (layouts converted from torch). */
export function loadNet(prefix: string, params: ParamSet): void {
  const values = new Map<string, tf.Tensor>();
  for (const name of params.keys()) values.set(name, fx.param(`${prefix}${name}`));
  assignParams(params, values);
  tf.dispose([...values.values()]);
}

function buildG(): StyleGan2Generator {
  const gcfg = { c0: cfg.g.c0, c1: cfg.g.c1, nBlocks: cfg.g.n_blocks };
  const G = new StyleGan2Generator(gcfg, initEqualised(styleGan2GeneratorSpecs(gcfg), new Rng(1)));
  loadNet('G.', G.params);
  return G;
}

function buildD(): StyleGan2Discriminator {
  const dcfg = { ndf: cfg.d.ndf, size: cfg.d.size };
  const D = new StyleGan2Discriminator(
    dcfg,
    initEqualised(styleGan2DiscriminatorSpecs(dcfg), new Rng(2)),
  );
  loadNet('D.', D.params);
  return D;
}

/** The fixture's step: its networks, options, and the random choices it made. */
function buildModel(): SinCutModel {
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
  loadNet('H.', H.params);
  return new SinCutModel(opts, buildG(), buildD(), H);
}

function stepSampling(): SinCutSampling {
  return {
    ids: cfg.taps.map((t) => fx.ids(`step.ids.nce.${t}`)),
    idsY: cfg.taps.map((t) => fx.ids(`step.ids.nceY.${t}`)),
    noise: tf.tidy(() => fx.raw('step.noise').dataSync() as Float32Array),
    windows: { fakeD: [0, 0], realD: [0, 0], fakeG: [0, 0] },
  };
}

const achieved: Record<string, Record<string, number>> = {};

describe.each(['cpu', 'wasm'] as BackendName[])('SinCUT parity on %s', (backend) => {
  const worst = (achieved[backend] = {} as Record<string, number>);
  const check = (what: string, err: number, label = what) => {
    worst[what] = Math.max(worst[what] ?? 0, err);
    expect(err, label).toBeLessThan(TOL);
  };
  const near = (what: string, a: tf.Tensor, b: tf.Tensor, label = what) => {
    check(what, relError(a, b), label);
    tf.dispose([a, b]);
  };
  const scalar = (what: string, a: number, b: number) =>
    check(what, Math.abs(a - b) / Math.max(1, Math.abs(b)));

  let G: StyleGan2Generator;
  let D: StyleGan2Discriminator;
  beforeAll(async () => {
    await initBackend(backend);
    G = buildG();
    D = buildD();
  });
  afterAll(() => {
    disposeParams(G.params);
    disposeParams(D.params);
  });

  it('generator output (with and without noise) and encoder taps, at two sizes', () => {
    for (const key of ['a', 'b']) {
      const x = fx.nhwc(`input.g.${key}`);
      const noise = fx.nhwc(`noise.g.${key}`);
      const before = tf.memory().numTensors;
      near('G output', G.forward(x, noise), fx.nhwc(`G.out.${key}`));
      near('G output', G.forward(x, null), fx.nhwc(`G.out_no_noise.${key}`));
      const feats = G.encode(x, cfg.taps);
      feats.forEach((f, i) => near(`tap`, f, fx.nhwc(`G.tap.${key}.${cfg.taps[i]}`), cfg.taps[i]));
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x, noise]);
    }
  });

  it('discriminator logits and the non-saturating loss', () => {
    const x = fx.nhwc('input.d');
    const logits = D.forward(x);
    near('D output', logits.clone(), fx.raw('D.out'));
    scalar('non-saturating', nonSaturating(logits, true).dataSync()[0], fx.scalar('ns.real'));
    scalar('non-saturating', nonSaturating(logits, false).dataSync()[0], fx.scalar('ns.fake'));
    tf.dispose([x, logits]);
  });

  it('R1 penalty and its gradient for every D weight (double backward)', () => {
    const x = fx.nhwc('input.d');
    const before = tf.memory().numTensors;
    const vars = [...D.params.values()];
    const { value, grads } = tf.variableGrads(() => {
      const { penalty, logits } = r1Penalty((t) => D.forward(t), x, cfg.losses.lambda_r1);
      logits.dispose();
      return penalty;
    }, vars);
    scalar('R1', value.dataSync()[0], fx.scalar('r1'));
    for (const [name, v] of D.params) {
      const got = grads[v.name];
      const want = fx.param(`r1.grad.D.${name}`);
      // R1 is small here, so its gradients are too: compare at the gradient's own scale.
      const err = tf.tidy(() => {
        const scale = tf.maximum(tf.max(tf.abs(want)), 1e-12);
        const diff = got ? tf.abs(tf.sub(got, want)) : tf.abs(want);
        return tf.div(tf.max(diff), scale).dataSync()[0];
      });
      const zero = tf.tidy(() => tf.max(tf.abs(want)).dataSync()[0]) === 0;
      if (zero)
        check('R1 gradient (zero)', got ? tf.tidy(() => tf.max(tf.abs(got)).dataSync()[0]) : 0);
      else check('R1 gradient / its max', err, name);
      want.dispose();
    }
    tf.dispose([value, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it.each([
    [null, 'auto'],
    [1, 'recomputed'],
  ] as const)(
    'one step (D in chunks of %s, G %s): losses, gradients of D (with R1), G and H, weights after Adam',
    (chunk, policy) => {
      const m = buildModel();
      m.segmentPolicy = policy;
      m.dChunk = chunk;
      const a = fx.nhwc('step.real_A');
      const b = fx.nhwc('step.real_B');
      const s = stepSampling();
      const before = tf.memory().numTensors;
      const grad = (net: 'G' | 'D' | 'H', grads: tf.NamedTensorMap) => {
        for (const [name, v] of m.networks()[net]) {
          const got = grads[v.name];
          expect(got, `gradient of ${net}.${name}`).toBeDefined();
          const want = fx.param(`step.grad.${net}.${name}`);
          check('gradient', relError(got, want, 'tensor'), name);
          want.dispose();
        }
      };
      const d = sincutDiscriminatorGrads(m, a, b, s);
      for (const k of ['D_fake', 'D_real', 'D_R1', 'D'] as const) {
        scalar('loss', d.losses[k], fx.scalar(`step.loss_${k}`));
      }
      grad('D', d.grads);
      m.optD.apply(d.grads);
      tf.dispose(d.grads);
      const g = sincutGeneratorGrads(m, a, b, s);
      for (const k of ['G_GAN', 'NCE', 'idt', 'G'] as const) {
        scalar('loss', g.losses[k], fx.scalar(`step.loss_${k}`));
      }
      scalar('loss', g.losses.NCE_Y ?? NaN, fx.scalar('step.loss_NCE_Y'));
      grad('G', g.grads);
      grad('H', g.grads);
      tf.dispose(g.grads);
      expect(tf.memory().numTensors).toBe(before);
      for (const [name, v] of m.D.params) {
        const want = fx.param(`step.after.D.${name}`);
        check('D weights after step', relError(v, want), name);
        want.dispose();
      }
      tf.dispose([a, b]);
      m.dispose();
    },
  );

  it('a whole step moves G and H as Adam should and leaves no tensor behind', () => {
    const m = buildModel();
    const a = fx.nhwc('step.real_A');
    const b = fx.nhwc('step.real_B');
    const before = tf.memory().numTensors;
    const losses = sincutTrainStep(m, a, b, stepSampling());
    expect(tf.memory().numTensors).toBe(before);
    scalar('loss', losses.G, fx.scalar('step.loss_G'));
    for (const net of ['G', 'H'] as const) {
      for (const [name, v] of m.networks()[net]) {
        // Adam's first step is ≈ lr·sign(g): where g is ~0 its sign is rounding noise.
        const err = tf.tidy(() => {
          const want = fx.param(`step.after.${net}.${name}`);
          const g = fx.param(`step.grad.${net}.${name}`);
          const diff = tf.abs(tf.sub(v, want));
          const settled = tf.greater(tf.abs(g), tf.mul(tf.max(tf.abs(g)), 1e-3));
          return tf.max(tf.where(settled, diff, tf.zerosLike(diff))).dataSync()[0];
        });
        check('G/H weights after step', err, `${net}.${name}`);
      }
    }
    tf.dispose([a, b]);
    m.dispose();
  });
});

afterAll(() => {
  console.log('SinCUT parity: worst |a−b|/max(1,|b|) per check and backend');
  console.table(achieved);
});
