// What an artist does with a downloaded latest_net_G.pth: import it (into the library by
// default), convert a picture with it, export it back for PyTorch; and what a script sees
// when the file is hostile or wrong (exit 1 and one line saying why). In-process.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readImageInfo } from '../../../main/engine/data/image-io';
import { readPth } from '../../../main/engine/import/pth';
import { recognizeGenerator } from '../../../main/engine/import/recognize';
import { manifest, pthPath } from '../engine/import/import-fixtures';
import { deflatedZip, zerosStream } from '../engine/import/zip-bomb';
import { writeImage } from '../jobs/convert/files';
import { patchwork } from '../../support/cli-in-process';
import { useTempDir } from '../../support/temp-dir';

const tmp = useTempDir('patchwork-cli-import-');

afterEach(() => {
  process.exitCode = undefined;
  vi.restoreAllMocks();
});

describe('patchwork import → convert → export', () => {
  for (const model of ['cut_module', 'cyclegan']) {
    it(`${model}: into the library, then converts a 13×11 image to its own size`, async () => {
      const library = tmp.path(`lib-${model}`);
      const imported = await patchwork(
        'import',
        pthPath(model),
        '--name',
        `My ${model}`,
        '--library',
        library,
      );
      expect(imported.code, imported.stderr).toBe(0);
      const style = path.join(library, 'styles', `my-${model.replace('_', '-')}`, 'style');
      expect(imported.stdout).toContain(style);
      const input = tmp.path(`in-${model}`, 'photo.png');
      await writeImage(input, 3, 13, 11);
      const output = tmp.path(`out-${model}`);
      const converted = await patchwork(
        'convert',
        '--style',
        style,
        '--input',
        path.dirname(input),
        '--output',
        output,
      );
      expect(converted.code, converted.stderr).toBe(0);
      const img = await readImageInfo(path.join(output, 'photo.png'));
      expect([img.width, img.height]).toEqual([13, 11]);
      expect(converted.stderr).not.toMatch(/untiled/);

      const file = tmp.path(`${model}-export.pth`);
      const exported = await patchwork('export', style, '--format', 'pth', '--out', file);
      expect(exported.code, exported.stderr).toBe(0);
      const again = recognizeGenerator(readPth(await fs.readFile(file)));
      expect(again.config).toEqual(
        model === 'cyclegan' ? { ngf: 3, nBlocks: 2 } : { ngf: 2, nBlocks: 1 },
      );
    });
  }

  it('a CycleGAN style converts a large image tiled, within a small budget', async () => {
    const out = tmp.path('cyc-tiled');
    expect((await patchwork('import', pthPath('cyclegan'), '--name', 'c', '--out', out)).code).toBe(
      0,
    );
    const input = tmp.path('in-tiled', 'wide.png');
    await writeImage(input, 5, 120, 100);
    const output = tmp.path('out-tiled');
    const r = await patchwork(
      'convert',
      '--style',
      out,
      '--input',
      path.dirname(input),
      '--output',
      output,
      '--tile',
      '32',
    );
    expect(r.code, r.stderr).toBe(0);
    const img = await readImageInfo(path.join(output, 'wide.png'));
    expect([img.width, img.height]).toEqual([120, 100]);
  });

  it('--out writes exactly there', async () => {
    const out = tmp.path('explicit');
    const r = await patchwork('import', pthPath('cut'), '--name', 'Zebra', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(await fs.readFile(path.join(out, 'style.json'), 'utf8')).name).toBe('Zebra');
  });
});

describe('refusals', () => {
  it('a malicious pickle: exit 1, the global named', async () => {
    const r = await patchwork(
      'import',
      pthPath('malicious-os-system'),
      '--name',
      'x',
      '--out',
      tmp.path('bad'),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^error: malicious-os-system\.pth: refused: the pickle refers to os\.system/m,
    );
    await expect(fs.stat(tmp.path('bad'))).rejects.toThrow();
  });

  it('a discriminator, a missing file', async () => {
    const d = await patchwork(
      'import',
      pthPath('discriminator'),
      '--name',
      'x',
      '--out',
      tmp.path('d'),
    );
    expect(d.code).toBe(1);
    expect(d.stderr).toMatch(/PatchGAN discriminator/);
    const m = await patchwork(
      'import',
      tmp.path('nope.pth'),
      '--name',
      'x',
      '--out',
      tmp.path('m'),
    );
    expect(m.code).toBe(1);
    expect(m.stderr).toMatch(/no such file/);
  });

  it('a zip bomb: exit 1, the file and the entry named, nothing inflated past 1 MiB', async () => {
    // 64 MiB of zeros in 66 KB, declared as 1 MiB
    const file = tmp.path('bomb.pth');
    await fs.writeFile(file, deflatedZip('bomb/data.pkl', zerosStream(64), 1 << 20, 0));
    const r = await patchwork('import', file, '--name', 'x', '--out', tmp.path('bomb'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^error: bomb\.pth: the checkpoint archive is damaged: entry bomb\/data\.pkl: inflates to more than its declared 1048576 bytes/m,
    );
    await expect(fs.stat(tmp.path('bomb'))).rejects.toThrow();
  });

  it('export: onnx writes a model, an unknown format is a usage error', async () => {
    const style = tmp.path('explicit');
    const file = tmp.path('g.onnx');
    const r = await patchwork('export', style, '--format', 'onnx', '--out', file);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/ONNX opset 17/);
    expect((await fs.stat(file)).size).toBeGreaterThan(40_000);
    const bad = await patchwork('export', style, '--format', 'tflite', '--out', file);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--format must be one of pth, onnx/);
  });
});

describe('patchwork train --from-style', () => {
  async function folders(name: string) {
    const source = tmp.path(`${name}-a`);
    const target = tmp.path(`${name}-b`);
    for (let i = 0; i < 2; i++) {
      await writeImage(path.join(source, `s${i}.png`), 20 + i, 40, 36);
      await writeImage(path.join(target, `t${i}.png`), 30 + i, 36, 40);
    }
    return ['--source', source, '--target', target, '--out', tmp.path(`${name}-run`)];
  }
  const small = ['--crop-size', '32', '--load-size', '36', '--ndf', '4', '--patches', '16'];

  it('fine-tunes an imported CUT generator, taking its width and blocks', async () => {
    const style = tmp.path('tune-cut');
    expect((await patchwork('import', pthPath('cut'), '--name', 'c', '--out', style)).code).toBe(0);
    const r = await patchwork(
      'train',
      ...(await folders('tune')),
      ...small,
      '--iterations',
      '2',
      '--backend',
      'wasm',
      '--from-style',
      style,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr + r.stdout).toContain(`fine-tuning ${style}`);
    const meta = JSON.parse(await fs.readFile(tmp.path('tune-run', 'style', 'style.json'), 'utf8'));
    const { ngf, nBlocks } = manifest.models.cut;
    expect(meta.generator).toMatchObject({ ngf, nBlocks });
  });

  it('refuses a CycleGAN import with exit 1 and the reason', async () => {
    const style = tmp.path('tune-cyclegan');
    expect(
      (await patchwork('import', pthPath('cyclegan'), '--name', 'c', '--out', style)).code,
    ).toBe(0);
    const r = await patchwork('train', ...(await folders('cyc')), ...small, '--from-style', style);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: Cannot fine-tune from .* cyclegan-resnet generator/m);
  });
});
