/**
 * Bench case `sincut-proof`: does SinCUT do what it is for, on the Étretat pair (Monet's
 * painting → a photo of the cliffs, as in the paper)? It trains through the product's own
 * loop (runSinCutTraining, the `train --preset sincut` path) on the full-size images, in
 * segments (each resumes the last checkpoint, which is bit-identical to one run), and after
 * each segment translates the whole 1200×966 painting with the saved style, tile by tile, as
 * `convert` does. It prints, per segment, the structure kept (edge-map correlation with the
 * painting at 1×, ½× and ¼×) and the colour and texture statistics (Lab mean ± std, patch
 * texture) against the painting's and the photo's, with their distance to the photo's; the
 * last translation is written to out/bench/sincut-proof.png.
 *
 * The networks are narrower than the reference's (widths 80/160 take ~50 s a step on this
 * backend, the 100,000-step schedule months): SINCUT_PROOF_NGF (default 1: widths 8/16),
 * SINCUT_PROOF_NDF (2), SINCUT_PROOF_STEPS (1500), SINCUT_PROOF_EVERY (250), crops of
 * SINCUT_PROOF_CROP (32) in batches of 4. `--quick`: 300 steps on the images at 400 px wide.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { resolveSinCutOptions } from '../../shared/options';
import { initBackend, type BackendName } from '../../main/engine/backend';
import { loadSingleImage } from '../../main/engine/data/single-image';
import { translateSinCut } from '../../main/engine/infer/sincut-tiled';
import { disposeParams } from '../../main/engine/model/params';
import { StyleGan2Generator } from '../../main/engine/model/stylegan2-generator';
import { runSinCutTraining } from '../../main/engine/train/sincut-loop';
import { SinCutModel } from '../../main/engine/train/sincut-model';
import { loadSinCutStyle } from '../../main/engine/style/sincut-style';
import {
  edgeCorrelations,
  formatEdges,
  formatStats,
  labStats,
  statsDistance,
  type Rgb,
} from '../support/image-stats';
import type { BenchArgs } from './index';
import { header, loadLine, machineLines, peakRssMiB, seconds, table } from './machine';

const DATA = fileURLToPath(
  new URL('../../../shared/datasets/single-image-monet-etretat/', import.meta.url),
);
const OUT = fileURLToPath(new URL('../../out/bench/', import.meta.url));
const env = (k: string, d: number) => {
  const v = Number(process.env[k] ?? d);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${k} must be a positive number`);
  return v;
};

async function run(args: BenchArgs): Promise<void> {
  const backend = (args.backend ?? 'wasm') as BackendName;
  const report = await initBackend(backend);
  const steps = args.quick ? 300 : env('SINCUT_PROOF_STEPS', 1500);
  const every = Math.min(steps, args.quick ? 100 : env('SINCUT_PROOF_EVERY', 250));
  const width = args.quick ? 400 : null;
  const options = resolveSinCutOptions({
    ngf: env('SINCUT_PROOF_NGF', 1),
    ndf: env('SINCUT_PROOF_NDF', 2),
    nBlocks: 2,
    nceTaps: ['input', 'down1', 'res1'],
    cropSize: env('SINCUT_PROOF_CROP', 32),
    dPatch: env('SINCUT_PROOF_CROP', 32),
    batchSize: 4,
    seed: 1,
  });
  const dir = mkdtempSync(path.join(tmpdir(), 'sincut-proof-'));
  try {
    const source = path.join(dir, 'painting.png');
    const target = path.join(dir, 'photo.png');
    const resize = (f: string, out: string) =>
      (width ? sharp(`${DATA}${f}`).resize(width) : sharp(`${DATA}${f}`)).png().toFile(out);
    await resize('monet.jpg', source);
    await resize('etretat-normandy-france.jpg', target);
    const painting = await loadSingleImage(source, Infinity);
    const photo = await loadSingleImage(target, Infinity);
    const src: Rgb = { data: painting.rgb, width: painting.width, height: painting.height };
    const sSrc = labStats(src);
    const sPhoto = labStats({ data: photo.rgb, width: photo.width, height: photo.height });
    console.log(
      header('sincut-proof: the Étretat pair, trained and translated', [
        ...machineLines(),
        ['load before', loadLine()],
        ['backend', report.detail],
        ['painting', `${painting.width}×${painting.height}, ${formatStats(sSrc)}`],
        ['photo', `${photo.width}×${photo.height}, ${formatStats(sPhoto)}`],
        [
          'networks',
          `StyleGAN2 G ngf ${options.ngf}, ${options.nBlocks} blocks; D ndf ${options.ndf}; crops ${options.cropSize}² ×${options.batchSize}, lr ${options.lr}`,
        ],
        ['steps', `${steps}, measured every ${every}`],
        [
          'distance to the photo',
          `painting ${statsDistance(sSrc, sPhoto).toFixed(1)} (Σ|Δ| of Lab means, stds and texture)`,
        ],
      ]),
    );
    const rows: string[][] = [];
    const measure = (label: string, out: Rgb, secs: string) => {
      const s = labStats(out);
      rows.push([
        label,
        secs,
        formatEdges(edgeCorrelations(src, out)),
        formatStats(s),
        statsDistance(s, sPhoto).toFixed(1),
      ]);
      console.error(`  ${rows.at(-1)?.join(' | ')}; load ${loadLine()}`);
    };
    const untrained = SinCutModel.create(options);
    measure('untrained', await translateSinCut(untrained.G as StyleGan2Generator, src), '');
    untrained.dispose();
    let trainSeconds = 0;
    let translated: Rgb = src;
    for (let done = every; done <= steps; done = Math.min(steps, done + every)) {
      const t0 = performance.now();
      const result = await runSinCutTraining(
        {
          source,
          target,
          out: path.join(dir, 'run'),
          options,
          iterations: done,
          backend,
          previewSide: 64,
          maxTrainPixels: Infinity,
        },
        { resume: done > every },
      );
      trainSeconds += (performance.now() - t0) / 1000;
      const style = await loadSinCutStyle(result.styleDir);
      const G = style.generator as StyleGan2Generator;
      const t1 = performance.now();
      translated = await translateSinCut(G, src, { noiseSeed: style.meta.noiseSeed });
      const translateSeconds = (performance.now() - t1) / 1000;
      disposeParams(G.params);
      disposeParams(style.head.params);
      measure(
        `${done} steps`,
        translated,
        `${seconds(trainSeconds)} + ${seconds(translateSeconds)}`,
      );
      if (done === steps) break;
    }
    console.log(
      table(
        [
          'generator',
          'train + translate',
          'edge correlation with the painting',
          'Lab and texture',
          'to photo',
        ],
        rows,
      ),
    );
    console.log(`peak RSS ${peakRssMiB().toFixed(0)} MiB; load after: ${loadLine()}`);
    mkdirSync(OUT, { recursive: true });
    const bytes = Buffer.from(translated.data.map((v) => Math.round(((v + 1) / 2) * 255)));
    await sharp(bytes, { raw: { width: translated.width, height: translated.height, channels: 3 } })
      .png()
      .toFile(path.join(OUT, 'sincut-proof.png'));
    console.log(`translation: ${path.join(OUT, 'sincut-proof.png')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const sincutProofCase = {
  summary: 'SinCUT on the Étretat pair: structure kept, colour and texture moved (trains ~1 h)',
  run,
};
