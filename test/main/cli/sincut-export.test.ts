// What export and fine-tuning do with a SinCUT style: the ResNet variant exports as CUT's
// generator does; the StyleGAN2 generator, and fine-tuning a CUT run from any SinCUT style,
// are refused with the reason and what to do instead, before any work.
import { promises as fs } from 'node:fs';
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

  it('refuses to export the StyleGAN2 generator, saying why (exit 1, no file)', async () => {
    const file = styles.tmp.path('stylegan2.onnx');
    const r = await patchwork('export', styles.stylegan2, '--format', 'onnx', '--out', file);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^error: .* is a SinCUT style with the StyleGAN2 generator, which export does not cover/m,
    );
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
