// What export and fine-tuning do with a SinCUT style: the ResNet variant exports as CUT's
// generator does; the StyleGAN2 generator exports as ONNX (it runs in ONNX Runtime and gives
// what the style's conversion gives) and is refused as .pth; fine-tuning a CUT run from any
// SinCUT style is refused with the reason and what to do instead, before any work.
import { promises as fs } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { positionalNoise } from '../../../main/engine/model/positional-noise';
import { loadSinCutStyle } from '../../../main/engine/style/sincut-style';
import { StyleGan2Generator } from '../../../main/engine/model/stylegan2-generator';
import { disposeParams } from '../../../main/engine/model/params';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { resolveTrainJob, type TrainJobSpec } from '../../../shared/jobs';
import { recognizeGenerator } from '../../../main/engine/import/recognize';
import { readPth } from '../../../main/engine/import/pth';
import { adoptStyleShape, InitStyleError } from '../../../main/engine/train/fine-tune';
import { patchwork } from '../../support/cli-in-process';
import { failure } from '../../support/failure';
import { useTinySinCutStyles } from '../../support/tiny-sincut-style';

const styles = useTinySinCutStyles('patchwork-sincut-export-');
afterEach(() => {
  process.exitCode = undefined;
  vi.restoreAllMocks();
});

describe('a SinCUT style', () => {
  it('exports its ResNet generator as a reference state dict', async () => {
    const file = styles.tmp.path('resnet.pth');
    const r = await patchwork('export', styles.resnet, '--format', 'pth', '--out', file);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /exported Tiny SinCUT \(resnet\) \(sincut, cut-resnet, ngf 2, 1 blocks\)/,
    );
    expect(recognizeGenerator(readPth(await fs.readFile(file))).config).toEqual({
      ngf: 2,
      nBlocks: 1,
    });
  });

  it('exports the StyleGAN2 generator as ONNX, which gives the style’s own output', async () => {
    const file = styles.tmp.path('stylegan2.onnx');
    const r = await patchwork('export', styles.stylegan2, '--format', 'onnx', '--out', file);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\(sincut, stylegan2, ngf 8, 2 blocks\)/);
    expect(r.stdout).toMatch(/"noise" \[N, 1, H, W\]/);
    const style = await loadSinCutStyle(styles.stylegan2);
    const G = style.generator;
    disposeParams(style.head.params);
    expect(G).toBeInstanceOf(StyleGan2Generator);
    const [h, w] = [12, 20];
    const x = Float32Array.from({ length: h * w * 3 }, (_, i) => Math.sin(i * 0.37));
    const noise = positionalNoise(style.meta.noiseSeed, 0, 0, h, w);
    const expected = tf.tidy(() =>
      tf.transpose(
        (G as StyleGan2Generator).forward(
          tf.tensor4d(x, [1, h, w, 3]),
          tf.tensor4d(noise, [1, h, w, 1]),
        ),
        [0, 3, 1, 2],
      ),
    );
    const session = await ort.InferenceSession.create(await fs.readFile(file));
    const nchw = tf.tidy(() => tf.transpose(tf.tensor4d(x, [1, h, w, 3]), [0, 3, 1, 2]));
    const { output } = await session.run({
      input: new ort.Tensor('float32', nchw.dataSync() as Float32Array, [1, 3, h, w]),
      noise: new ort.Tensor('float32', noise, [1, 1, h, w]),
    });
    const want = expected.dataSync();
    const got = output.data as Float32Array;
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
    expect(worst).toBeLessThan(1e-4);
    await session.release();
    tf.dispose([expected, nchw]);
    disposeParams(G.params);
  });

  it('refuses the StyleGAN2 generator as .pth, pointing to ONNX (exit 1, no file)', async () => {
    const file = styles.tmp.path('stylegan2.pth');
    const r = await patchwork('export', styles.stylegan2, '--format', 'pth', '--out', file);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^error: .* is a SinCUT style with the StyleGAN2 generator, which .pth export does not cover/m,
    );
    expect(r.stderr).toMatch(/--format onnx/);
    await expect(fs.stat(file)).rejects.toThrow();
  });

  it('cannot seed a CUT run: refused before any work, pointing to --resume', async () => {
    for (const dir of [styles.stylegan2, styles.resnet]) {
      const spec: TrainJobSpec = {
        source: styles.tmp.dir,
        target: styles.tmp.dir,
        out: styles.tmp.path('run'),
        options: { preset: 'cut' },
        initFrom: dir,
        iterations: 1,
        backend: 'wasm',
      };
      const err = await failure(adoptStyleShape(resolveTrainJob(spec), spec), InitStyleError);
      expect(err.message).toMatch(/Cannot fine-tune from .*: it is a SinCUT style/);
      expect(err.message).toMatch(/--resume/);
    }
  });
});
