/**
 * The convert figures for the benchmark bundle: megapixels per second of translating a
 * synthetic image (no sharp, no photo in the bundle: speed does not depend on content) with a
 * random generator, tiled (translateTiled, default budget, tile from the budget and the
 * adapter's buffer limits) and untiled, on the current backend; and how far tiled is from
 * untiled (the seamless-tiling invariant, on this GPU's arithmetic).
 */
import * as tf from '@tensorflow/tfjs';
import { translateTiled } from '../../../main/engine/infer/tiled-generator';
import { translateImageAsync, type RgbFloatImage } from '../../../main/engine/infer/translate';
import { ResnetGenerator } from '../../../main/engine/model/generator';
import { disposeParams } from '../../../main/engine/model/params';
import { Rng } from '../../../main/engine/rng';

export interface ConvertNet {
  key: string;
  ngf: number;
  nBlocks: number;
}

export interface ConvertRow {
  net: ConvertNet;
  width: number;
  height: number;
  mode: 'tiled' | 'untiled';
  seconds: number | null;
  error?: string;
  /** Tiled rows: max |tiled − untiled| on [0, 1], where both ran. */
  maxDiff?: number;
}

/** A smooth colour field in [−1, 1], the photo's aspect (16:9). */
export function syntheticImage(mpx: number): RgbFloatImage {
  const height = Math.max(8, Math.round(Math.sqrt((mpx * 1e6 * 9) / 16)));
  const width = Math.max(8, Math.round((height * 16) / 9));
  const data = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = Math.sin(x / 37 + y / 53);
      data[i + 1] = Math.cos(x / 23 - y / 31);
      data[i + 2] = Math.sin((x + y) / 71) * 0.8;
    }
  }
  return { data, width, height };
}

export async function runConvert(
  nets: ConvertNet[],
  sizes: number[],
  log: (s: string) => void,
): Promise<ConvertRow[]> {
  const rows: ConvertRow[] = [];
  for (const net of nets) {
    const G = ResnetGenerator.create({ ngf: net.ngf, nBlocks: net.nBlocks }, 0.02, new Rng(7));
    await translateImageAsync(G, syntheticImage(0.004)); // kernels set up
    for (const mpx of sizes) {
      const image = syntheticImage(mpx);
      let untiled: Float32Array | null = null;
      for (const mode of ['untiled', 'tiled'] as const) {
        log(`  convert ${net.key} ${image.width}×${image.height} ${mode} …`);
        const row: ConvertRow = {
          net,
          width: image.width,
          height: image.height,
          mode,
          seconds: null,
        };
        const before = tf.memory().numTensors;
        try {
          const start = performance.now();
          const out =
            mode === 'tiled' ? await translateTiled(G, image) : await translateImageAsync(G, image);
          row.seconds = (performance.now() - start) / 1000;
          if (mode === 'untiled') untiled = out.data;
          else if (untiled) {
            let worst = 0;
            for (let i = 0; i < untiled.length; i++) {
              worst = Math.max(worst, Math.abs(out.data[i] - untiled[i]) / 2);
            }
            row.maxDiff = worst;
          }
          const left = tf.memory().numTensors - before;
          if (left !== 0) row.error = `${left} tensors left behind`;
        } catch (err) {
          row.error = (err instanceof Error ? err.message : String(err)).split('\n')[0];
        }
        rows.push(row);
      }
    }
    disposeParams(G.params);
  }
  return rows;
}
