/**
 * Whole-image per-channel moments gathered tile by tile, for instance norm at any resolution
 * (DESIGN.md, "High resolution without seams"). Each tile is summed in float64 with two passes
 * (mean, then squared deviations), and tiles are merged with Chan et al.'s pairwise update, so
 * no E[x²] − E[x]² cancellation creeps in however many pixels there are. The result matches
 * instance norm's biased variance; summation order aside, it is the untiled statistic.
 */

export const IN_EPS = 1e-5;

export class ChannelMoments {
  private count = 0;
  private readonly meanAcc: Float64Array;
  private readonly m2Acc: Float64Array; // Σ (x − mean)²

  constructor(readonly channels: number) {
    this.meanAcc = new Float64Array(channels);
    this.m2Acc = new Float64Array(channels);
  }

  /** Add a tile of interleaved values, [h, w, C] row-major. */
  add(values: Float32Array): void {
    const c = this.channels;
    const n = values.length / c;
    if (n === 0) return;
    const mean = new Float64Array(c);
    for (let i = 0; i < values.length; i += c) {
      for (let k = 0; k < c; k++) mean[k] += values[i + k];
    }
    for (let k = 0; k < c; k++) mean[k] /= n;
    const m2 = new Float64Array(c);
    for (let i = 0; i < values.length; i += c) {
      for (let k = 0; k < c; k++) {
        const d = values[i + k] - mean[k];
        m2[k] += d * d;
      }
    }
    this.merge(n, mean, m2);
  }

  /**
   * Add a tile already reduced elsewhere (e.g. by the ONNX Runtime pass graph): its pixel
   * count, per-channel mean and Σ (x − mean)².
   */
  merge(n: number, mean: ArrayLike<number>, m2: ArrayLike<number>): void {
    if (n === 0) return;
    if (mean.length !== this.channels || m2.length !== this.channels) {
      throw new RangeError(`expected ${this.channels} channels of moments, got ${mean.length}`);
    }
    const total = this.count + n;
    for (let k = 0; k < this.channels; k++) {
      const delta = mean[k] - this.meanAcc[k];
      this.meanAcc[k] += (delta * n) / total;
      this.m2Acc[k] += m2[k] + (delta * delta * this.count * n) / total;
    }
    this.count = total;
  }

  get pixels(): number {
    return this.count;
  }

  mean(): Float64Array {
    return Float64Array.from(this.meanAcc);
  }

  /** Biased variance (divided by the pixel count), as instance norm uses. */
  variance(): Float64Array {
    return this.m2Acc.map((m) => m / this.count);
  }

  /** What instance norm needs: x ↦ (x − mean) · invStd. */
  normaliser(eps = IN_EPS): Normaliser {
    if (this.count === 0) throw new Error('no pixels were added');
    const variance = this.variance();
    return {
      mean: Float32Array.from(this.meanAcc),
      invStd: Float32Array.from(variance, (v) => 1 / Math.sqrt(v + eps)),
    };
  }
}

export interface Normaliser {
  mean: Float32Array;
  invStd: Float32Array;
}
