// Parity of SinCUT's networks and losses with the PyTorch statement in test/fixtures/sincut:
// the StyleGAN2 generator (with given noise) and its encoder taps, the discriminator, the
// non-saturating loss, and the R1 penalty with its gradient for every D weight (a second
// derivative). Worst errors per check and backend are printed at the end.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, type BackendName } from '../../../main/engine/backend';
import { nonSaturating } from '../../../main/engine/losses/nonsaturating';
import { r1Penalty } from '../../../main/engine/losses/r1';
import { disposeParams } from '../../../main/engine/model/params';
import type { StyleGan2Discriminator } from '../../../main/engine/model/stylegan2-discriminator';
import type { StyleGan2Generator } from '../../../main/engine/model/stylegan2-generator';
import {
  sincutDiscriminatorGrads,
  sincutGeneratorGrads,
  sincutTrainStep,
} from '../../../main/engine/train/sincut-step';
import { relError } from '../../support/fixture';
import { buildD, buildG, buildModel, cfg, fx, stepSampling } from '../../support/reference-sincut';

const TOL = 1e-4;

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
    [null, 'auto', null],
    [1, 'recomputed', 1],
  ] as const)(
    'one step (D in chunks of %s, G %s, G’s half in chunks of %s): losses, gradients of D (with R1), G and H, weights after Adam',
    async (chunk, policy, gChunk) => {
      const m = buildModel();
      m.segmentPolicy = policy;
      m.dChunk = chunk;
      m.gChunk = gChunk;
      const a = fx.nhwc('step.real_A');
      const b = fx.nhwc('step.real_B');
      const s = await stepSampling();
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
      const d = await sincutDiscriminatorGrads(m, a, b, s);
      for (const k of ['D_fake', 'D_real', 'D_R1', 'D'] as const) {
        scalar('loss', d.losses[k], fx.scalar(`step.loss_${k}`));
      }
      grad('D', d.grads);
      m.optD.apply(d.grads);
      tf.dispose(d.grads);
      const g = await sincutGeneratorGrads(m, a, b, s);
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

  it('a whole step moves G and H as Adam should and leaves no tensor behind', async () => {
    const m = buildModel();
    const a = fx.nhwc('step.real_A');
    const b = fx.nhwc('step.real_B');
    const s = await stepSampling();
    const before = tf.memory().numTensors;
    const losses = await sincutTrainStep(m, a, b, s);
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
