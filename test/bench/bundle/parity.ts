/**
 * The golden parity checks of test/fixtures/reference (what test/main/engine/parity.test.ts
 * and webgpu-parity.test.ts assert), as a plain function for the benchmark bundle: the
 * engine loaded with the fixture's weights, on whatever backend is current, against what the
 * PyTorch statement of the reference computed. Reads are asynchronous (webgpu has no
 * synchronous read in Node). Returns the worst error per check; 1e-4 is the engine's tolerance.
 */
import * as tf from '@tensorflow/tfjs';
import type { Preset } from '../../../shared/options';
import { patchNceLoss } from '../../../main/engine/losses/patch-nce';
import {
  discriminatorGradsAsync,
  generatorGradsAsync,
  gradsByName,
} from '../../../main/engine/train/train-step';
import { Fixture } from '../../support/fixture';
import { failureLine, maxOf, parityChecks } from '../../support/parity-checks';
import {
  buildReferenceModel,
  REFERENCE_LR,
  referenceConfig,
  referenceSampling,
  stepErrorRatio,
} from '../../support/reference-model';

export const PARITY_TOL = 1e-4;

export interface ParityResult {
  /** Worst error per check, relative as the tests define it. */
  worst: Record<string, number>;
  /** Checks over the tolerance, with the tensor that failed. */
  failures: string[];
  /** Tensors left behind by the full steps (should be 0). */
  leaked: number;
}

export async function runParity(
  fixtureDir: string,
  presets: Preset[] = ['fastcut', 'cut'],
  log: (s: string) => void = () => undefined,
): Promise<ParityResult> {
  const fx = Fixture.fromDir(fixtureDir, 'cut-small');
  const cfg = referenceConfig(fx);
  const lr = REFERENCE_LR;
  const failures: string[] = [];
  const { worst, check, near, scalar } = parityChecks(PARITY_TOL, (...f) =>
    failures.push(failureLine(...f)),
  );

  const build = (preset: Preset) => buildReferenceModel(fx, preset);

  log('  parity: generator, encoder taps, discriminator, projection head, PatchNCE …');
  const model = build('cut');
  for (const input of ['real_A', 'odd']) {
    const x = fx.nhwc(`input.${input}`);
    await near('G output', model.G.forward(x), fx.nhwc(`G.out.${input}`));
    const feats = model.G.encode(x, cfg.taps);
    for (const [i, f] of feats.entries()) {
      await near(`tap ${cfg.taps[i]}`, f, fx.nhwc(`G.tap.${input}.${cfg.taps[i]}`));
    }
    x.dispose();
  }
  const b0 = fx.nhwc('input.real_B');
  await near('D output', model.D.forward(b0), fx.nhwc('D.out.real_B'));
  b0.dispose();
  const a0 = fx.nhwc('input.real_A');
  const keys = model.G.encode(a0, cfg.taps);
  const queries = tf.tidy(() => model.G.encode(model.G.forward(a0), cfg.taps));
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
  tf.dispose([a0, ...keys, ...queries]);
  model.dispose();

  let leaked = 0;
  for (const preset of presets) {
    log(`  parity: ${preset} losses, gradients and weights after one full step …`);
    const m = build(preset);
    const a = fx.nhwc('input.real_A');
    const b = fx.nhwc('input.real_B');
    const s = referenceSampling(fx, preset);
    const before = tf.memory().numTensors;
    const checkGrads = async (grads: tf.NamedTensorMap, net: 'G' | 'D' | 'H') => {
      const byName = gradsByName(m, grads)[net];
      for (const name of m.networks()[net].keys()) {
        const key = `${net}.${name}`;
        const got = byName.get(name);
        if (!got) {
          failures.push(`no gradient for ${key}`);
        } else if (cfg.zero_grad_params.includes(key)) {
          check('zero gradient', await maxOf(tf.abs(got)));
        } else {
          await near('gradient', got.clone(), fx.param(`${preset}.grad.${key}`), key, 'tensor');
        }
      }
    };
    const d = await discriminatorGradsAsync(m, a, b, s);
    scalar('loss', d.losses.D_fake, fx.scalar(`${preset}.loss_D_fake`));
    scalar('loss', d.losses.D_real, fx.scalar(`${preset}.loss_D_real`));
    scalar('loss', d.losses.D, fx.scalar(`${preset}.loss_D`));
    await checkGrads(d.grads, 'D');
    m.optD.apply(d.grads);
    tf.dispose(d.grads);
    const g = await generatorGradsAsync(m, a, b, s);
    scalar('loss', g.losses.G_GAN, fx.scalar(`${preset}.loss_G_GAN`));
    scalar('loss', g.losses.NCE, fx.scalar(`${preset}.loss_NCE`));
    if (preset === 'cut') scalar('loss', g.losses.NCE_Y ?? NaN, fx.scalar('cut.loss_NCE_Y'));
    scalar('loss', g.losses.G, fx.scalar(`${preset}.loss_G`));
    await checkGrads(g.grads, 'G');
    await checkGrads(g.grads, 'H');
    const split = gradsByName(m, g.grads);
    const named = (net: 'G' | 'H', grads: Map<string, tf.Tensor>) =>
      Object.fromEntries(
        [...grads].map(([n, t]) => [(m.networks()[net].get(n) as tf.Variable).name, t]),
      );
    m.optG.apply(named('G', split.G));
    m.optH.apply(named('H', split.H));
    tf.dispose(g.grads);
    leaked += tf.memory().numTensors - before;
    for (const [net, params] of Object.entries(m.networks())) {
      for (const [name, v] of params) {
        const key = `${net}.${name}`;
        if (cfg.zero_grad_params.includes(key)) {
          const moved = await maxOf(tf.tidy(() => tf.abs(tf.sub(v, fx.param(key)))));
          check('zero-gradient bias moved ≤ lr', moved / lr, 1 + 1e-3);
        } else {
          // Adam's first step moves each weight by ≈ lr·sign(g): where the reference gradient
          // is below the tolerance its sign is undetermined, and 2·lr is allowed there.
          const ref = fx.param(`${preset}.step.${key}`);
          const gradRef = fx.param(`${preset}.grad.${key}`);
          const ratio = stepErrorRatio(v, ref, gradRef, PARITY_TOL);
          check('weights after step', (await maxOf(ratio)) * PARITY_TOL, PARITY_TOL, key);
          tf.dispose([ref, gradRef]);
        }
      }
    }
    tf.dispose([a, b]);
    m.dispose();
  }
  return { worst, failures, leaked };
}
