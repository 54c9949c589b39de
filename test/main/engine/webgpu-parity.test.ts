// The golden parity fixtures (test/fixtures/reference, as parity.test.ts checks them on cpu
// and wasm) on the webgpu backend, forced onto SwiftShader so that CI runs them without a GPU.
// Every read is `await tensor.data()`: Node has no synchronous GPU read. Tolerance: the
// engine's 1e-4 throughout (achieved: about 1e-5 at worst); the worst errors are printed at the
// end. SwiftShader runs TF.js's shared-memory kernels slowly, so the per-test limit is long.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Preset } from '../../../shared/options';
import { initBackend } from '../../../main/engine/backend';
import type { CutModel } from '../../../main/engine/train/cut-model';
import { patchNceLoss } from '../../../main/engine/losses/patch-nce';
import {
  discriminatorGradsAsync,
  generatorGradsAsync,
  gradsByName,
} from '../../../main/engine/train/train-step';
import { buildModel, cfg, fx, lr, sampling, stepErrorRatio } from '../../support/reference-cut';
import { expectParity, maxOf, swiftShaderUnavailable } from '../../support/swiftshader';

const unavailable = await swiftShaderUnavailable();
if (unavailable) console.warn(`webgpu parity skipped: ${unavailable}`);

const TOL = 1e-4;
/** As parity.test.ts: Adam's first step, sign-undetermined elements allowed 2·lr. */
async function stepError(actual: tf.Tensor, expected: tf.Tensor, gradRef: tf.Tensor) {
  return (await maxOf(stepErrorRatio(actual, expected, gradRef, TOL))) * TOL;
}

const { worst, check, near, scalar } = expectParity(TOL);

describe.skipIf(unavailable !== null)(
  'parity with the reference on webgpu (SwiftShader)',
  { timeout: 300_000 },
  () => {
    let model: CutModel;
    beforeAll(async () => {
      const report = await initBackend('webgpu');
      expect(report.detail).toMatch(/software adapter/);
      model = buildModel('cut');
    });
    afterAll(() => {
      model?.dispose();
      console.log('webgpu parity (SwiftShader): worst |a−b|/max(1,|b|) per check');
      console.table(worst);
    });

    it('generator output, every encoder tap, discriminator output', async () => {
      for (const input of ['real_A', 'odd']) {
        const x = fx.nhwc(`input.${input}`);
        await near('G output', model.G.forward(x), fx.nhwc(`G.out.${input}`));
        const feats = model.G.encode(x, cfg.taps);
        for (const [i, f] of feats.entries()) {
          await near(`tap ${cfg.taps[i]}`, f, fx.nhwc(`G.tap.${input}.${cfg.taps[i]}`));
        }
        x.dispose();
      }
      const b = fx.nhwc('input.real_B');
      await near('D output', model.D.forward(b), fx.nhwc('D.out.real_B'));
      b.dispose();
    });

    it('projection head and PatchNCE per tap', async () => {
      const a = fx.nhwc('input.real_A');
      const keys = model.G.encode(a, cfg.taps);
      const queries = tf.tidy(() => model.G.encode(model.G.forward(a), cfg.taps));
      for (const [i, tap] of cfg.taps.entries()) {
        const ids = fx.ids(`H.ids.${tap}`);
        const k = model.H.project(i, keys[i], ids);
        await near('H output', k.clone(), fx.raw(`H.out.real_A.${tap}`));
        const q = model.H.project(i, queries[i], ids);
        const rows = patchNceLoss(q, k, 0.07, 1);
        await near('PatchNCE rows', rows.clone(), fx.raw(`nce.perRow.${tap}`));
        const mean = tf.mean(rows);
        scalar('PatchNCE', (await mean.data())[0], fx.scalar(`nce.perTap.${tap}`));
        tf.dispose([k, q, rows, mean]);
      }
      tf.dispose([a, ...keys, ...queries]);
    });

    // SwiftShader needs about a minute per full step here; CUT's (the identity term doubles
    // the batch) runs with PATCHWORK_WEBGPU_FULL=1, FastCUT's always.
    const presets: Preset[] =
      process.env.PATCHWORK_WEBGPU_FULL === '1' ? ['fastcut', 'cut'] : ['fastcut'];
    it.each(presets)(
      '%s: losses, gradients and weights after one full step; no tensor left behind',
      async (preset) => {
        const m = buildModel(preset);
        const a = fx.nhwc('input.real_A');
        const b = fx.nhwc('input.real_B');
        const s = sampling(preset);
        const before = tf.memory().numTensors;

        const d = await discriminatorGradsAsync(m, a, b, s);
        scalar('loss', d.losses.D_fake, fx.scalar(`${preset}.loss_D_fake`));
        scalar('loss', d.losses.D_real, fx.scalar(`${preset}.loss_D_real`));
        scalar('loss', d.losses.D, fx.scalar(`${preset}.loss_D`));
        await checkGrads(m, d.grads, preset, 'D');
        m.optD.apply(d.grads);
        tf.dispose(d.grads);

        const g = await generatorGradsAsync(m, a, b, s);
        scalar('loss', g.losses.G_GAN, fx.scalar(`${preset}.loss_G_GAN`));
        scalar('loss', g.losses.NCE, fx.scalar(`${preset}.loss_NCE`));
        if (preset === 'cut') scalar('loss', g.losses.NCE_Y ?? NaN, fx.scalar('cut.loss_NCE_Y'));
        scalar('loss', g.losses.G, fx.scalar(`${preset}.loss_G`));
        await checkGrads(m, g.grads, preset, 'G');
        await checkGrads(m, g.grads, preset, 'H');
        const split = gradsByName(m, g.grads);
        m.optG.apply(
          Object.fromEntries([...split.G].map(([n, t]) => [m.G.params.get(n)!.name, t])),
        );
        m.optH.apply(
          Object.fromEntries([...split.H].map(([n, t]) => [m.H.params.get(n)!.name, t])),
        );
        tf.dispose(g.grads);
        expect(tf.memory().numTensors).toBe(before);

        for (const [net, params] of Object.entries(m.networks())) {
          for (const [name, v] of params) {
            const key = `${net}.${name}`;
            if (cfg.zero_grad_params.includes(key)) {
              const moved = await maxOf(tf.tidy(() => tf.abs(tf.sub(v, fx.param(key)))));
              check('zero-gradient bias moved ≤ lr', moved / lr, 1 + 1e-3);
            } else {
              const ref = fx.param(`${preset}.step.${key}`);
              const gradRef = fx.param(`${preset}.grad.${key}`);
              check('weights after step', await stepError(v, ref, gradRef), TOL, key);
              tf.dispose([ref, gradRef]);
            }
          }
        }
        tf.dispose([a, b]);
        m.dispose();

        async function checkGrads(
          mm: CutModel,
          grads: tf.NamedTensorMap,
          p: Preset,
          net: 'G' | 'D' | 'H',
        ) {
          const byName = gradsByName(mm, grads)[net];
          for (const name of mm.networks()[net].keys()) {
            const key = `${net}.${name}`;
            const got = byName.get(name);
            expect(got, `gradient for ${key}`).toBeDefined();
            if (cfg.zero_grad_params.includes(key)) {
              check('zero gradient', await maxOf(tf.abs(got!)), TOL);
            } else {
              await near('gradient', got!.clone(), fx.param(`${p}.grad.${key}`), key, 'tensor');
            }
          }
        }
      },
    );
  },
);
