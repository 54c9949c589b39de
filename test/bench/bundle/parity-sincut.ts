/**
 * The SinCUT parity checks of test/fixtures/sincut (what sincut-parity.test.ts and
 * sincut-webgpu.test.ts assert), as a plain function for the benchmark bundle: on whatever
 * backend is current, the StyleGAN2 generator and its taps, the discriminator, the
 * non-saturating loss, R1 with its gradient for every D weight (a double backward), and one
 * whole step's losses, gradients and weights after Adam, against the PyTorch statement.
 * Reads are asynchronous. Returns the worst error per check; 1e-4 is the engine's tolerance.
 */
import * as tf from '@tensorflow/tfjs';
import { nonSaturating } from '../../../main/engine/losses/nonsaturating';
import { r1Penalty } from '../../../main/engine/losses/r1';
import { disposeParams } from '../../../main/engine/model/params';
import {
  sincutDiscriminatorGrads,
  sincutGeneratorGrads,
} from '../../../main/engine/train/sincut-step';
import { Fixture } from '../../support/fixture';
import { failureLine, maxOf, ownScaleError, parityChecks } from '../../support/parity-checks';
import {
  buildReferenceD,
  buildReferenceG,
  buildReferenceSinCut,
  referenceSinCutSampling,
  sincutReferenceConfig,
} from '../../support/reference-sincut-model';
import { PARITY_TOL, type ParityResult } from './parity';

export async function runSinCutParity(
  fixtureDir: string,
  log: (s: string) => void = () => undefined,
): Promise<ParityResult> {
  const fx = Fixture.fromDir(fixtureDir, 'sincut-small');
  const cfg = sincutReferenceConfig(fx);
  const failures: string[] = [];
  const { worst, check, near, scalar } = parityChecks(PARITY_TOL, (...f) =>
    failures.push(failureLine(...f)),
  );

  log('  sincut: generator, discriminator, R1');
  const G = buildReferenceG(fx);
  const D = buildReferenceD(fx);
  const x = fx.nhwc('input.g.a');
  const noise = fx.nhwc('noise.g.a');
  await near('G output', G.forward(x, noise), fx.nhwc('G.out.a'));
  for (const [i, f] of G.encode(x, cfg.taps).entries()) {
    await near('tap', f, fx.nhwc(`G.tap.a.${cfg.taps[i]}`), cfg.taps[i]);
  }
  tf.dispose([x, noise]);
  disposeParams(G.params);
  const xd = fx.nhwc('input.d');
  const logits = D.forward(xd);
  await near('D output', logits.clone(), fx.raw('D.out'));
  for (const [real, key] of [
    [true, 'ns.real'],
    [false, 'ns.fake'],
  ] as const) {
    const ns = nonSaturating(logits, real);
    scalar('non-saturating', (await ns.data())[0], fx.scalar(key));
    ns.dispose();
  }
  logits.dispose();
  const r1 = tf.variableGrads(() => {
    const { penalty, logits: l } = r1Penalty((t) => D.forward(t), xd, cfg.losses.lambda_r1);
    l.dispose();
    return penalty;
  }, [...D.params.values()]);
  scalar('R1', (await r1.value.data())[0], fx.scalar('r1'));
  for (const [name, v] of D.params) {
    const want = fx.param(`r1.grad.D.${name}`);
    const got = r1.grads[v.name] ?? tf.zerosLike(want);
    if ((await maxOf(tf.abs(want))) === 0) check('R1 gradient (zero)', await maxOf(tf.abs(got)));
    else check('R1 gradient / its max', await ownScaleError(got, want), PARITY_TOL, name);
    tf.dispose([want, got]);
  }
  tf.dispose([r1.value, ...Object.values(r1.grads), xd]);
  disposeParams(D.params);

  log('  sincut: one step');
  const m = buildReferenceSinCut(fx);
  const a = fx.nhwc('step.real_A');
  const b = fx.nhwc('step.real_B');
  const s = await referenceSinCutSampling(fx);
  const before = tf.memory().numTensors;
  const grads = async (net: 'G' | 'D' | 'H', got: tf.NamedTensorMap) => {
    for (const [name, v] of m.networks()[net]) {
      const g = got[v.name];
      if (!g) failures.push(`no gradient for ${net}.${name}`);
      else await near('gradient', g.clone(), fx.param(`step.grad.${net}.${name}`), name, 'tensor');
    }
  };
  const d = await sincutDiscriminatorGrads(m, a, b, s);
  for (const k of ['D_fake', 'D_real', 'D_R1', 'D'] as const) {
    scalar('step loss', d.losses[k], fx.scalar(`step.loss_${k}`));
  }
  await grads('D', d.grads);
  m.optD.apply(d.grads);
  tf.dispose(d.grads);
  const g = await sincutGeneratorGrads(m, a, b, s);
  for (const k of ['G_GAN', 'NCE', 'idt', 'G'] as const) {
    scalar('step loss', g.losses[k], fx.scalar(`step.loss_${k}`));
  }
  scalar('step loss', g.losses.NCE_Y ?? NaN, fx.scalar('step.loss_NCE_Y'));
  await grads('G', g.grads);
  await grads('H', g.grads);
  tf.dispose(g.grads);
  const leaked = tf.memory().numTensors - before;
  for (const [name, v] of m.D.params) {
    await near('D weights after step', v.clone(), fx.param(`step.after.D.${name}`), name);
  }
  tf.dispose([a, b]);
  m.dispose();
  return { worst, failures, leaked };
}
