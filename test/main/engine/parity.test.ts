// Parity with the reference: the engine, loaded with the fixture's weights, must compute
// what the PyTorch statement of the reference computed (test/fixtures/reference). Each check
// records its worst error so the achieved tolerances are printed at the end of the run.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Preset } from '../../../shared/options';
import { initBackend, type BackendName } from '../../../main/engine/backend';
import type { CutModel } from '../../../main/engine/train/cut-model';
import { patchNceLoss } from '../../../main/engine/losses/patch-nce';
import {
  discriminatorGradsAsync,
  generatorGradsAsync,
  gradsByName,
  trainStepAsync,
} from '../../../main/engine/train/train-step';
import { relError } from '../../support/fixture';
import { buildModel, cfg, fx, lr, sampling, stepErrorRatio } from '../../support/reference-cut';

const TOL = 1e-4;
/** Error of a weight after Adam's first step, scaled so that it passes below TOL. */
function stepError(actual: tf.Tensor, expected: tf.Tensor, gradRef: tf.Tensor): number {
  const ratio = stepErrorRatio(actual, expected, gradRef, TOL);
  const worst = tf.tidy(() => tf.max(ratio).dataSync()[0]);
  ratio.dispose();
  return worst * TOL;
}

const achieved: Record<string, Record<string, number>> = {};

describe.each(['cpu', 'wasm'] as BackendName[])('parity with the reference on %s', (backend) => {
  const worst = (achieved[backend] = {} as Record<string, number>);
  const check = (what: string, err: number, tol = TOL, label = what) => {
    worst[what] = Math.max(worst[what] ?? 0, err);
    expect(err, label).toBeLessThan(tol);
  };
  const near = (
    what: string,
    actual: tf.Tensor,
    expected: tf.Tensor,
    label = what,
    scale: 'element' | 'tensor' = 'element',
  ) => {
    check(what, relError(actual, expected, scale), TOL, label);
    tf.dispose([actual, expected]);
  };
  const scalar = (what: string, actual: number, expected: number) =>
    check(what, Math.abs(actual - expected) / Math.max(1, Math.abs(expected)));

  let model: CutModel;
  beforeAll(async () => {
    await initBackend(backend);
    model = buildModel('cut');
  });
  afterAll(() => model.dispose());

  it('generator output and every encoder tap', () => {
    for (const input of ['real_A', 'odd']) {
      const x = fx.nhwc(`input.${input}`);
      near('G output', model.G.forward(x), fx.nhwc(`G.out.${input}`));
      const feats = model.G.encode(x, cfg.taps);
      feats.forEach((f, i) =>
        near(`tap ${cfg.taps[i]}`, f, fx.nhwc(`G.tap.${input}.${cfg.taps[i]}`)),
      );
      x.dispose();
    }
  });

  it('discriminator output', () => {
    const b = fx.nhwc('input.real_B');
    near('D output', model.D.forward(b), fx.nhwc('D.out.real_B'));
    const a = fx.nhwc('input.real_A');
    near(
      'D output',
      tf.tidy(() => model.D.forward(model.G.forward(a))),
      fx.nhwc('D.out.fake'),
    );
    tf.dispose([a, b]);
  });

  it('projection head outputs at given positions, and PatchNCE per tap', () => {
    const a = fx.nhwc('input.real_A');
    const keys = model.G.encode(a, cfg.taps);
    const queries = tf.tidy(() => model.G.encode(model.G.forward(a), cfg.taps));
    let total = 0;
    cfg.taps.forEach((tap, i) => {
      const ids = fx.ids(`H.ids.${tap}`);
      const k = model.H.project(i, keys[i], ids);
      near('H output', k.clone(), fx.raw(`H.out.real_A.${tap}`));
      const q = model.H.project(i, queries[i], ids);
      const rows = patchNceLoss(q, k, 0.07, 1);
      near('PatchNCE rows', rows.clone(), fx.raw(`nce.perRow.${tap}`));
      const mean = tf.mean(rows).dataSync()[0];
      scalar('PatchNCE', mean, fx.scalar(`nce.perTap.${tap}`));
      total += mean / cfg.taps.length;
      tf.dispose([k, q, rows]);
    });
    scalar('PatchNCE', total, fx.scalar('nce.total'));
    tf.dispose([a, ...keys, ...queries]);
  });

  it('PatchNCE with negatives per image and from the whole minibatch', () => {
    const x = fx.nhwc('input.batch2');
    const keys = model.G.encode(x, cfg.taps);
    const queries = tf.tidy(() => model.G.encode(model.G.forward(x), cfg.taps));
    for (const mode of ['off', 'on'] as const) {
      cfg.taps.forEach((tap, i) => {
        const ids = fx.ids(`nce.mb.ids.${tap}`);
        const loss = tf.tidy(() => {
          const k = model.H.project(i, keys[i], ids);
          const q = model.H.project(i, queries[i], ids);
          return tf.mean(patchNceLoss(q, k, 0.07, mode === 'on' ? 1 : 2)).dataSync()[0];
        });
        scalar('PatchNCE minibatch', loss, fx.scalar(`nce.mb.${mode}.perTap.${tap}`));
      });
    }
    tf.dispose([x, ...keys, ...queries]);
  });

  it.each(['cut', 'fastcut'] as Preset[])(
    '%s: losses, gradients and weights after one full step',
    async (preset) => {
      const m = buildModel(preset);
      const a = fx.nhwc('input.real_A');
      const b = fx.nhwc('input.real_B');
      const s = sampling(preset);
      const before = tf.memory().numTensors;

      // D half, then its update, exactly as trainStepAsync does, checking in between.
      const d = await discriminatorGradsAsync(m, a, b, s);
      scalar('loss', d.losses.D_fake, fx.scalar(`${preset}.loss_D_fake`));
      scalar('loss', d.losses.D_real, fx.scalar(`${preset}.loss_D_real`));
      scalar('loss', d.losses.D, fx.scalar(`${preset}.loss_D`));
      checkGrads(m, d.grads, preset, 'D');
      m.optD.apply(d.grads);
      tf.dispose(d.grads);

      const g = await generatorGradsAsync(m, a, b, s);
      scalar('loss', g.losses.G_GAN, fx.scalar(`${preset}.loss_G_GAN`));
      scalar('loss', g.losses.NCE, fx.scalar(`${preset}.loss_NCE`));
      if (preset === 'cut') scalar('loss', g.losses.NCE_Y ?? NaN, fx.scalar('cut.loss_NCE_Y'));
      scalar('loss', g.losses.G, fx.scalar(`${preset}.loss_G`));
      checkGrads(m, g.grads, preset, 'G');
      checkGrads(m, g.grads, preset, 'H');
      const split = gradsByName(m, g.grads);
      m.optG.apply(Object.fromEntries([...split.G].map(([n, t]) => [m.G.params.get(n)!.name, t])));
      m.optH.apply(Object.fromEntries([...split.H].map(([n, t]) => [m.H.params.get(n)!.name, t])));
      tf.dispose(g.grads);
      expect(tf.memory().numTensors).toBe(before);

      for (const [net, params] of Object.entries(m.networks())) {
        for (const [name, v] of params) {
          const key = `${net}.${name}`;
          if (cfg.zero_grad_params.includes(key)) {
            // Mathematically zero gradient: float rounding lets Adam's first step move it by ≤ lr.
            const moved = tf.tidy(() => tf.max(tf.abs(tf.sub(v, fx.param(key)))).dataSync()[0]);
            check('zero-gradient bias moved ≤ lr', moved / lr, 1 + 1e-3);
          } else {
            const ref = fx.param(`${preset}.step.${key}`);
            const gradRef = fx.param(`${preset}.grad.${key}`);
            check('weights after step', stepError(v, ref, gradRef), TOL, key);
            tf.dispose([ref, gradRef]);
          }
        }
      }
      tf.dispose([a, b]);
      m.dispose();

      function checkGrads(
        model: CutModel,
        grads: tf.NamedTensorMap,
        p: Preset,
        net: 'G' | 'D' | 'H',
      ) {
        const byName = gradsByName(model, grads)[net];
        for (const name of model.networks()[net].keys()) {
          const key = `${net}.${name}`;
          const got = byName.get(name);
          expect(got, `gradient for ${key}`).toBeDefined();
          if (cfg.zero_grad_params.includes(key)) {
            check(
              'zero gradient',
              tf.tidy(() => tf.max(tf.abs(got!)).dataSync()[0]),
              TOL,
            );
          } else {
            near('gradient', got!.clone(), fx.param(`${p}.grad.${key}`), key, 'tensor');
          }
        }
      }
    },
  );

  it('a full trainStep leaves no tensors behind and matches the checked halves', async () => {
    const m = buildModel('cut');
    const a = fx.nhwc('input.real_A');
    const b = fx.nhwc('input.real_B');
    const before = tf.memory().numTensors;
    const losses = await trainStepAsync(m, a, b, sampling('cut'));
    expect(tf.memory().numTensors).toBe(before);
    scalar('loss', losses.G, fx.scalar('cut.loss_G'));
    near(
      'weights after step',
      m.G.params.get('model.4.weight')!.clone(),
      fx.param('cut.step.G.model.4.weight'),
    );
    tf.dispose([a, b]);
    m.dispose();
  });
});

afterAll(() => {
  // The achieved tolerances, for the record (quoted in notes).
  console.log('parity: worst |a−b|/max(1,|b|) per check and backend');
  console.table(achieved);
});
