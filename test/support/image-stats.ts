/**
 * Image statistics for judging a translation without a ground truth: does it keep the
 * source's structure (correlation of Sobel edge magnitudes on luminance), and do its colour
 * (CIE Lab mean and std per channel) and texture (mean local std of L in 8×8 patches, a
 * patch-contrast statistic) move from the source's towards the target's? Inputs are HWC RGB
 * in [−1, 1].
 */
export interface Rgb {
  data: Float32Array;
  width: number;
  height: number;
}

export interface LabStats {
  mean: [number, number, number];
  std: [number, number, number];
  /** Mean over 8×8 patches of the std of L inside the patch. */
  texture: number;
}

function srgbToLinear(c: number): number {
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
}

/** [H·W·3] Lab (D65) of an image in [−1, 1]. */
export function toLab(img: Rgb): Float32Array {
  const n = img.width * img.height;
  const out = new Float32Array(n * 3);
  const f = (t: number) => (t > 216 / 24389 ? Math.cbrt(t) : ((24389 / 27) * t + 16) / 116);
  for (let i = 0; i < n; i++) {
    const [r, g, b] = [0, 1, 2].map((k) =>
      srgbToLinear(Math.min(1, Math.max(0, (img.data[i * 3 + k] + 1) / 2))),
    );
    const x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047;
    const y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    const z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883;
    const [fx, fy, fz] = [f(x), f(y), f(z)];
    out[i * 3] = 116 * fy - 16;
    out[i * 3 + 1] = 500 * (fx - fy);
    out[i * 3 + 2] = 200 * (fy - fz);
  }
  return out;
}

export function labStats(img: Rgb): LabStats {
  const lab = toLab(img);
  const n = img.width * img.height;
  const mean: [number, number, number] = [0, 0, 0];
  const std: [number, number, number] = [0, 0, 0];
  for (let k = 0; k < 3; k++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += lab[i * 3 + k];
    mean[k] = s / n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (lab[i * 3 + k] - mean[k]) ** 2;
    std[k] = Math.sqrt(v / n);
  }
  let texture = 0;
  let patches = 0;
  for (let py = 0; py + 8 <= img.height; py += 8) {
    for (let px = 0; px + 8 <= img.width; px += 8) {
      let s = 0;
      let s2 = 0;
      for (let y = py; y < py + 8; y++) {
        for (let x = px; x < px + 8; x++) {
          const l = lab[(y * img.width + x) * 3];
          s += l;
          s2 += l * l;
        }
      }
      texture += Math.sqrt(Math.max(0, s2 / 64 - (s / 64) ** 2));
      patches += 1;
    }
  }
  return { mean, std, texture: texture / Math.max(1, patches) };
}

/** Distance between two images' statistics: Σ|Δmean| + Σ|Δstd| over L, a, b, + |Δtexture|. */
export function statsDistance(a: LabStats, b: LabStats): number {
  let d = Math.abs(a.texture - b.texture);
  for (let k = 0; k < 3; k++) d += Math.abs(a.mean[k] - b.mean[k]) + Math.abs(a.std[k] - b.std[k]);
  return d;
}

/** Sobel gradient magnitude of luminance, [H·W] (zero on the border). */
export function edges(img: Rgb): Float32Array {
  const { width: w, height: h, data } = img;
  const lum = new Float32Array(w * h);
  for (let i = 0; i < w * h; i++)
    lum[i] = 0.299 * data[i * 3] + 0.587 * data[i * 3 + 1] + 0.114 * data[i * 3 + 2];
  const out = new Float32Array(w * h);
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const p = (dy: number, dx: number) => lum[(y + dy) * w + x + dx];
      const gx = p(-1, 1) + 2 * p(0, 1) + p(1, 1) - p(-1, -1) - 2 * p(0, -1) - p(1, -1);
      const gy = p(1, -1) + 2 * p(1, 0) + p(1, 1) - p(-1, -1) - 2 * p(-1, 0) - p(-1, 1);
      out[y * w + x] = Math.hypot(gx, gy);
    }
  }
  return out;
}

/** Pearson correlation of two equally long arrays. */
export function correlation(a: Float32Array, b: Float32Array): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb || 1);
}

export function formatStats(s: LabStats): string {
  const f = (v: number) => v.toFixed(1);
  return `L ${f(s.mean[0])}±${f(s.std[0])} a ${f(s.mean[1])}±${f(s.std[1])} b ${f(s.mean[2])}±${f(s.std[2])} texture ${s.texture.toFixed(2)}`;
}

/** The image averaged over f×f blocks (the last partial row / column dropped). */
export function downsample(img: Rgb, f: number): Rgb {
  const w = Math.floor(img.width / f);
  const h = Math.floor(img.height / f);
  const out = new Float32Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let k = 0; k < 3; k++) {
        let s = 0;
        for (let dy = 0; dy < f; dy++) {
          for (let dx = 0; dx < f; dx++)
            s += img.data[((y * f + dy) * img.width + x * f + dx) * 3 + k];
        }
        out[(y * w + x) * 3 + k] = s / (f * f);
      }
    }
  }
  return { data: out, width: w, height: h };
}

/**
 * Edge-map correlation of a translation with its source at 1×, ½× and ¼× scale. A translation
 * that changes texture (brush strokes to photographic grain) decorrelates the finest edges
 * by design; the coarser scales are the shapes the artist composed.
 */
export function edgeCorrelations(src: Rgb, out: Rgb): [number, number, number] {
  const at = (f: number) =>
    f === 1
      ? correlation(edges(src), edges(out))
      : correlation(edges(downsample(src, f)), edges(downsample(out, f)));
  return [at(1), at(2), at(4)];
}

export function formatEdges(c: [number, number, number]): string {
  return `${c[0].toFixed(3)} (1×) / ${c[1].toFixed(3)} (½×) / ${c[2].toFixed(3)} (¼×)`;
}
