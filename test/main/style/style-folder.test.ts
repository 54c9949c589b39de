// main/style is the one reader of style.json, so every way a style.json can be unusable must
// come back as its own StyleError (the CLI prints it, the studio shows it), a style from
// another Patchwork version must say which way it differs, and a write must never leave half
// a file. Plain Node: no TF.js here, as the module itself.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { resolveSinCutOptions, resolveTrainOptions } from '../../../shared/options';
import { StyleError } from '../../../main/style/style-error';
import {
  changeStyleJson,
  classify,
  readStyleMeta,
  readStyleSummary,
  writeStyleMeta,
} from '../../../main/style/style-folder';
import {
  STYLE_FORMAT,
  type CutStyleMeta,
  type SinCutStyleMeta,
} from '../../../main/style/style-json';

const training = {
  iterations: 12,
  epochs: 2,
  durationSeconds: 3.5,
  finalLosses: null,
  backend: 'wasm (test)',
  status: 'completed' as const,
  datasetSizes: { source: 5, target: 4 },
};

const cut: CutStyleMeta = {
  format: STYLE_FORMAT,
  kind: 'cut',
  name: 'Sepia',
  preset: 'fastcut',
  options: resolveTrainOptions({ preset: 'fastcut', ngf: 4, nBlocks: 2, cropSize: 32 }),
  generator: { ngf: 4, nBlocks: 2 },
  training,
  created: '2024-05-01T12:00:00.000Z',
  weights: { config: 'generator.json', data: 'generator.bin' },
  thumbnail: 'thumbnail.png',
  previews: [{ source: 'previews/00-source.png', output: 'previews/00-output.png' }],
};

const sincutOptions = resolveSinCutOptions({});
const sincut: SinCutStyleMeta = {
  format: STYLE_FORMAT,
  kind: 'sincut',
  name: 'One pair',
  preset: 'sincut',
  options: sincutOptions,
  generator: { architecture: 'sincut-stylegan2', ngf: sincutOptions.ngf, nBlocks: 1 },
  training,
  created: '2024-05-01T12:00:00.000Z',
  weights: { config: 'generator.json', data: 'generator.bin' },
  head: {
    taps: ['input'],
    channels: [3],
    dim: 256,
    weights: { config: 'head.json', data: 'head.bin' },
  },
  noiseSeed: 7,
  thumbnail: null,
  previews: [],
};

let root: string;
let counter = 0;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'patchwork-style-folder-'));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** A style folder whose style.json holds `text` (or JSON of `value`). */
async function folder(value: unknown, text?: string): Promise<string> {
  counter += 1;
  const dir = path.join(root, `style-${counter}`);
  await fs.mkdir(dir);
  await fs.writeFile(path.join(dir, 'style.json'), text ?? JSON.stringify(value));
  return dir;
}

async function styleError(dir: string): Promise<StyleError> {
  const err = await readStyleMeta(dir).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StyleError);
  return err as StyleError;
}

describe('readStyleMeta', () => {
  it('reads a CUT and a SinCUT style.json as written', async () => {
    expect(await readStyleMeta(await folder(cut))).toEqual(cut);
    expect(await readStyleMeta(await folder(sincut))).toEqual(sincut);
  });

  it('a style written by a newer Patchwork says so', async () => {
    const err = await styleError(await folder({ ...cut, format: 'patchwork-style-2' }));
    expect([err.code, err.formatAge]).toEqual(['unsupported-format', 'newer']);
    expect(err.message).toMatch(/"patchwork-style-2" is not one this version reads/);
    expect(err.message).toMatch(/newer Patchwork/);
  });

  it('a style of an older, unsupported format says so', async () => {
    const err = await styleError(await folder({ ...cut, format: 'patchwork-style-0' }));
    expect([err.code, err.formatAge]).toEqual(['unsupported-format', 'older']);
    expect(err.message).toMatch(/older Patchwork/);
  });

  it('a format that is not Patchwork’s, or none, is unknown', async () => {
    const foreign = await styleError(await folder({ ...cut, format: 'x-9' }));
    expect([foreign.code, foreign.formatAge]).toEqual(['unsupported-format', 'unknown']);
    expect(foreign.message).toMatch(/"x-9"/);
    const bare: Record<string, unknown> = { ...cut };
    delete bare.format;
    expect((await styleError(await folder(bare))).formatAge).toBe('unknown');
  });

  it('corrupt JSON, no style.json and no folder are told apart', async () => {
    const corrupt = await styleError(await folder(null, '{"format": "patchwork-style-1",'));
    expect(corrupt.code).toBe('not-a-style');
    expect(corrupt.message).toMatch(/style\.json is not valid JSON/);
    expect(corrupt.formatAge).toBeNull();

    const empty = path.join(root, 'empty');
    await fs.mkdir(empty);
    const none = await styleError(empty);
    expect(none.code).toBe('not-a-style');
    expect(none.message).toMatch(/not a Patchwork style folder \(no style\.json\)/);

    expect((await styleError(path.join(root, 'nowhere'))).code).toBe('missing-folder');
  });

  it('fields of the wrong shape are refused, naming the field', async () => {
    const name = await styleError(await folder({ ...cut, name: 42 }));
    expect(name.code).toBe('not-a-style');
    expect(name.message).toMatch(/not a usable CUT style \(name: /);

    const ngf = await styleError(await folder({ ...cut, generator: { ngf: 0, nBlocks: 2 } }));
    expect(ngf.message).toMatch(/generator\.ngf/);

    const options = { ...sincut.options, ngf: -1 };
    const bad = await styleError(await folder({ ...sincut, options }));
    expect(bad.code).toBe('not-a-style');
    expect(bad.message).toMatch(/not a usable SinCUT style \(options\.ngf/);

    const noHead = await styleError(await folder({ ...sincut, head: undefined }));
    expect(noHead.message).toMatch(/head/);
  });

  it('an unknown kind or generator architecture is an unsupported format', async () => {
    const kind = await styleError(await folder({ ...cut, kind: 'pix2pix' }));
    expect(kind.code).toBe('unsupported-format');
    expect(kind.message).toMatch(/style kind "pix2pix" is unknown/);

    const generator = { ngf: 4, nBlocks: 2, architecture: 'unet-256' };
    const arch = await styleError(await folder({ ...cut, generator }));
    expect(arch.code).toBe('unsupported-format');
    expect(arch.message).toMatch(/architecture "unet-256" is unknown/);
  });
});

describe('classify', () => {
  it('tells CUT, imported CycleGAN and SinCUT styles and their generators apart', () => {
    expect(classify(cut)).toEqual({ kind: 'cut', architecture: 'cut-resnet' });
    const cycle: CutStyleMeta = {
      ...cut,
      generator: { ngf: 4, nBlocks: 2, architecture: 'cyclegan-resnet' },
    };
    expect(classify(cycle)).toEqual({ kind: 'cut', architecture: 'cyclegan-resnet' });
    expect(classify(sincut)).toEqual({ kind: 'sincut', architecture: 'sincut-stylegan2' });
    const resnet: SinCutStyleMeta = {
      ...sincut,
      generator: { ...sincut.generator, architecture: 'cut-resnet' },
    };
    expect(classify(resnet)).toEqual({ kind: 'sincut', architecture: 'cut-resnet' });
  });
});

describe('readStyleSummary', () => {
  it('gives the display fields with absolute file names', async () => {
    const dir = await folder(cut);
    expect(await readStyleSummary(dir)).toEqual({
      name: 'Sepia',
      preset: 'fastcut',
      kind: 'cut',
      thumbnail: path.join(dir, 'thumbnail.png'),
      previews: [
        {
          source: path.join(dir, 'previews/00-source.png'),
          output: path.join(dir, 'previews/00-output.png'),
        },
      ],
      created: '2024-05-01T12:00:00.000Z',
      iterations: 12,
      weightsConfig: 'generator.json',
    });
  });

  // The library lists every folder; one bad field must not hide the style's other fields.
  it('reads any format field by field; null without a style.json', async () => {
    const dir = await folder({ format: 'x', name: 'Odd', preset: 3, previews: [{ source: 1 }] });
    expect(await readStyleSummary(dir)).toMatchObject({
      name: 'Odd',
      preset: null,
      previews: [],
      iterations: null,
      weightsConfig: 'generator.json',
    });
    expect(await readStyleSummary(path.join(root, 'nowhere'))).toBeNull();
    await expect(readStyleSummary(await folder(null, '[1, 2]'))).rejects.toThrow(StyleError);
  });
});

describe('writing style.json', () => {
  it('writeStyleMeta validates first, and writes what readStyleMeta reads', async () => {
    const dir = await folder(cut);
    await writeStyleMeta(dir, { ...cut, name: 'Renamed' });
    expect((await readStyleMeta(dir)).name).toBe('Renamed');
    const invalid = { ...cut, generator: { ngf: -4, nBlocks: 2 } };
    await expect(writeStyleMeta(dir, invalid)).rejects.toThrow(StyleError);
    expect((await readStyleMeta(dir)).name).toBe('Renamed');
  });

  it('changeStyleJson keeps every other field as written, formats it does not know too', async () => {
    const dir = await folder({ format: 'x', name: 'Old', extra: { kept: true } });
    expect(await changeStyleJson(dir, { name: 'New' })).toBe(true);
    const back = JSON.parse(await fs.readFile(path.join(dir, 'style.json'), 'utf8'));
    expect(back).toEqual({ format: 'x', name: 'New', extra: { kept: true } });
    expect(await changeStyleJson(path.join(root, 'nowhere'), { name: 'x' })).toBe(false);
  });

  it('a failed write leaves the previous style.json whole and no temporary beside it', async () => {
    const dir = await folder(cut);
    const before = await fs.readFile(path.join(dir, 'style.json'), 'utf8');
    vi.spyOn(fs, 'rename').mockRejectedValueOnce(new Error('EIO: the disk went away'));
    await expect(writeStyleMeta(dir, { ...cut, name: 'Lost' })).rejects.toThrow(/EIO/);
    expect(await fs.readFile(path.join(dir, 'style.json'), 'utf8')).toBe(before);
    expect(await fs.readdir(dir)).toEqual(['style.json']);
  });
});
