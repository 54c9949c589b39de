// Parity of SinCUT's networks and losses with the PyTorch statement in test/fixtures/sincut:
// the StyleGAN2 generator (with given noise) and its encoder taps, the discriminator, the
// non-saturating loss, and the R1 penalty with its gradient for every D weight (a second
// derivative). Worst errors per check and backend are printed at the end.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NceTap } from '../../../shared/options';
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
});

afterAll(() => {
  console.log('SinCUT parity: worst |a−b|/max(1,|b|) per check and backend');
  console.table(achieved);
});
