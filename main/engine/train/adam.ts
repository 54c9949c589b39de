/**
 * Adam exactly as torch.optim.Adam computes it (eps added to the bias-corrected √v), so one
 * step matches the reference to float precision. TF.js's own Adam puts eps inside the
 * un-corrected denominator, which differs for small gradients. The state (m, v, step) is
 * exposed for checkpoints.
 */
import * as tf from '@tensorflow/tfjs';
import type { ParamSet } from '../model/params';

export interface AdamConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps?: number;
}

export class Adam {
  lr: number;
  step = 0;
  readonly m = new Map<string, tf.Variable>();
  readonly v = new Map<string, tf.Variable>();
  private readonly byVarName = new Map<string, string>();

  constructor(
    readonly params: ParamSet,
    private readonly cfg: AdamConfig,
  ) {
    this.lr = cfg.lr;
    // Inside tidy so the zero initialisers are released once the variables hold their data.
    tf.tidy(() => {
      for (const [name, p] of params) {
        this.byVarName.set(p.name, name);
        this.m.set(name, tf.variable(tf.zerosLike(p), false));
        this.v.set(name, tf.variable(tf.zerosLike(p), false));
      }
    });
  }

  /** Variables to differentiate, in a stable order. */
  variables(): tf.Variable[] {
    return [...this.params.values()];
  }

  /** One update from gradients keyed by TF.js variable name (as tf.variableGrads returns). */
  apply(grads: tf.NamedTensorMap): void {
    this.step += 1;
    const { beta1: b1, beta2: b2 } = this.cfg;
    const eps = this.cfg.eps ?? 1e-8;
    const bc1 = 1 - b1 ** this.step;
    const bc2 = 1 - b2 ** this.step;
    const stepSize = this.lr / bc1;
    tf.tidy(() => {
      for (const [varName, g] of Object.entries(grads)) {
        const name = this.byVarName.get(varName);
        if (name === undefined) throw new Error(`Adam: gradient for unknown variable ${varName}`);
        const p = this.params.get(name) as tf.Variable;
        const m = this.m.get(name) as tf.Variable;
        const v = this.v.get(name) as tf.Variable;
        m.assign(tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1)));
        v.assign(tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2)));
        const denom = tf.add(tf.div(tf.sqrt(v), Math.sqrt(bc2)), eps);
        p.assign(tf.sub(p, tf.mul(tf.div(m, denom), stepSize)));
      }
    });
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}

/**
 * The reference's linear decay (`lr_policy linear`): factor 1 for the first `epochs` epochs,
 * then falling linearly to 1/(decayEpochs+1) in the last one. `epoch` counts from 1.
 */
export function lrFactor(epoch: number, epochs: number, decayEpochs: number): number {
  return 1 - Math.max(0, epoch - epochs) / (decayEpochs + 1);
}
