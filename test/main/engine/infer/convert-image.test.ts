// One file through a style: the pixels a user sees must be the ones the network saw
// (orientation applied once, colour in sRGB), alpha must come out as it went in, the output
// must be written in the chosen form, and every failure must carry a reason the queue can
// report. A fixed inversion stands in for the network except in the last test, which also
// shows the tiled translator plugs in with the same contract.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../../main/engine/backend';
import {
  bindGenerator,
  ConvertFileError,
  convertFile,
  type ConvertImageOptions,
  type Translator,
} from '../../../../main/engine/infer/convert-image';
import { translateTiled } from '../../../../main/engine/infer/tiled-generator';
import { translateImageAsync } from '../../../../main/engine/infer/translate';
import { ResnetGenerator } from '../../../../main/engine/model/generator';
import { disposeParams } from '../../../../main/engine/model/params';
import { Rng } from '../../../../main/engine/rng';
import { failure as failureOf } from '../../../support/failure';

const invert: ConvertImageOptions = {
  translate: (img) => ({ ...img, data: img.data.map((v) => -v) }),
};

let root: string;
beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'patchwork-convert-image-'));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

function ramp(w: number, h: number, channels: 3 | 4): Buffer {
  const data = Buffer.alloc(w * h * channels);
  for (let i = 0; i < w * h; i++) {
    for (let c = 0; c < 3; c++) data[i * channels + c] = (i * 5 + c * 60) & 0xff;
    if (channels === 4) data[i * 4 + 3] = (i * 11) & 0xff;
  }
  return data;
}

async function raw(file: string) {
  return sharp(file).raw().toBuffer({ resolveWithObject: true });
}

const failure = (p: Promise<unknown>) => failureOf(p, ConvertFileError);

describe('convertFile', () => {
  it('translates the colour and carries alpha over untouched', async () => {
    const input = path.join(root, 'rgba.png');
    const src = ramp(10, 6, 4);
    await sharp(src, { raw: { width: 10, height: 6, channels: 4 } })
      .png()
      .toFile(input);
    const output = path.join(root, 'rgba-out.png');
    await convertFile(input, output, invert);
    const { data, info } = await raw(output);
    expect([info.width, info.height, info.channels]).toEqual([10, 6, 4]);
    for (let i = 0; i < 60; i++) {
      expect([data[i * 4], data[i * 4 + 3]]).toEqual([255 - src[i * 4], src[i * 4 + 3]]);
    }
  });

  it("returns the translation's over-budget warning among the written file's notes, once", async () => {
    const input = path.join(root, 'budget.png');
    await sharp(ramp(10, 6, 4), { raw: { width: 10, height: 6, channels: 4 } })
      .png()
      .toFile(input);
    const warned: Translator = (image, opts) => {
      opts.onOverBudget?.('over the budget');
      opts.onOverBudget?.('over the budget');
      return image;
    };
    const written = await convertFile(input, path.join(root, 'budget.jpg'), { translate: warned });
    expect(written.notes).toEqual(['over the budget', 'JPEG has no alpha channel: alpha dropped']);
    const quiet = await convertFile(input, path.join(root, 'quiet.png'), invert);
    expect(quiet.notes).toEqual([]);
  });

  it('applies the EXIF orientation once: upright output, orientation reset when copied', async () => {
    const input = path.join(root, 'rotated.jpg');
    await sharp(ramp(16, 8, 3), { raw: { width: 16, height: 8, channels: 3 } })
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toFile(input);
    const output = path.join(root, 'rotated-out.jpg');
    await convertFile(input, output, { ...invert, metadata: 'copy' });
    const meta = await sharp(output).metadata();
    expect([meta.width, meta.height, meta.orientation ?? 1]).toEqual([8, 16, 1]);
    expect(meta.exif).toBeDefined();
  });

  it('writes the chosen format, bit depth and colour profile', async () => {
    const input = path.join(root, 'p3.png');
    await sharp(ramp(12, 12, 3), { raw: { width: 12, height: 12, channels: 3 } })
      .withIccProfile('p3')
      .png()
      .toFile(input);
    const deep = path.join(root, 'deep.tif');
    const written = await convertFile(input, deep, { ...invert, bitDepth: 16, icc: 'source' });
    expect(written).toMatchObject({ format: 'tiff', bitDepth: 16, icc: 'source' });
    const meta = await sharp(deep).metadata();
    expect([meta.format, meta.depth, meta.hasProfile]).toEqual(['tiff', 'ushort', true]);
    const bare = path.join(root, 'bare.webp');
    await convertFile(input, bare, { ...invert, icc: 'none', quality: 80 });
    expect((await sharp(bare).metadata()).hasProfile).toBe(false);
  });

  it('gives every failure a reason', async () => {
    const input = path.join(root, 'ok.png');
    await sharp(ramp(12, 12, 3), { raw: { width: 12, height: 12, channels: 3 } })
      .png()
      .toFile(input);
    const out = path.join(root, 'x.png');
    const tooSmall = {
      translate: () => {
        throw new RangeError('image is 4×4; at least 8×8 is needed');
      },
    };
    expect((await failure(convertFile(input, out, tooSmall))).reason).toBe('too-small');
    const wrongSize = { translate: () => ({ data: new Float32Array(3), width: 1, height: 1 }) };
    expect((await failure(convertFile(input, out, wrongSize))).reason).toBe('translate-failed');
    expect((await failure(convertFile(input, input, invert))).reason).toBe('same-as-input');
    const jpeg16 = convertFile(input, path.join(root, 'x.jpg'), { ...invert, bitDepth: 16 });
    expect((await failure(jpeg16)).reason).toBe('unsupported-output');
    const missing = await failure(convertFile(path.join(root, 'nope.png'), out, invert));
    expect([missing.reason, missing.stage]).toEqual(['not-found', 'decode']);
    const noFolder = path.join(root, 'gone', 'x.png');
    expect((await failure(convertFile(input, noFolder, invert))).reason).toBe('write-failed');
    await expect(fs.readdir(root)).resolves.not.toContain('x.png');
  });

  it('runs a real generator, untiled or tiled, through the injected translator', async () => {
    await initBackend('wasm');
    const G = ResnetGenerator.create({ ngf: 2, nBlocks: 1 }, 0.5, new Rng(4));
    try {
      const input = path.join(root, 'odd.png');
      await sharp(ramp(21, 13, 3), { raw: { width: 21, height: 13, channels: 3 } })
        .png()
        .toFile(input);
      const before = tf.memory().numTensors;
      const untiled = path.join(root, 'odd-untiled.png');
      await convertFile(input, untiled, { translate: bindGenerator(G, translateImageAsync) });
      const tiled = path.join(root, 'odd-tiled.png');
      const seen: unknown[] = [];
      const translate = bindGenerator(G, (g: ResnetGenerator, image, opts) => {
        seen.push(opts);
        return translateTiled(g, image, opts);
      });
      await convertFile(input, tiled, { translate, translateOptions: { tile: 8 } });
      expect(tf.memory().numTensors).toBe(before);
      // The options as given, and where an over-budget tile plan is told (the file's notes).
      expect(seen).toEqual([{ tile: 8, onOverBudget: expect.any(Function) }]);
      const a = await raw(untiled);
      const b = await raw(tiled);
      expect([a.info.width, a.info.height, b.info.width, b.info.height]).toEqual([21, 13, 21, 13]);
      // Seamless: equal to the untiled output up to 8-bit rounding of a ~1e-5 difference.
      const worst = a.data.reduce((m, v, k) => Math.max(m, Math.abs(v - b.data[k])), 0);
      expect(worst).toBeLessThanOrEqual(1);
    } finally {
      disposeParams(G.params);
    }
  });
});
