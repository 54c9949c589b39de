// What a user of `patchwork heatmap` relies on: a picture and the best matches printed for a
// good request, exit 2 with a message naming the problem for a bad point, tap or flag, exit 1
// for an unusable style or image, and a style without a projection head still working, on
// raw features, with a note saying so. Run in-process on a tiny style and small images.
import { promises as fs } from 'node:fs';
import sharp from 'sharp';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../../../main/engine/backend';
import { decompressionBomb, writeImage } from '../jobs/convert/files';
import { patchwork } from '../../support/cli-in-process';
import { useTempDir } from '../../support/temp-dir';
import { saveTinyCutStyle } from '../../support/tiny-cut-style';
import { saveTinySinCutStyle } from '../../support/tiny-sincut-style';

const tmp = useTempDir('patchwork-cli-heatmap-');
let style: string;
let headless: string;
let image: string;

beforeAll(async () => {
  style = tmp.path('style');
  headless = tmp.path('headless');
  image = tmp.path('photo.png');
  await initBackend('wasm');
  await saveTinyCutStyle(style, { seed: 9, headless }); // taps input, down1, down2, res1
  await writeImage(image, 3, 48, 32);
});
afterEach(() => {
  process.exitCode = undefined;
  vi.restoreAllMocks();
});

let n = 0;
function outFile(ext = '.png'): string {
  return tmp.path(`out-${++n}${ext}`);
}

const base = (out: string, ...rest: string[]) => [
  'heatmap',
  '--style',
  style,
  '--image',
  image,
  '--out',
  out,
  '--backend',
  'wasm',
  ...rest,
];

describe('patchwork heatmap', () => {
  it('writes the picture and prints the best match per tap', async () => {
    const out = outFile();
    const r = await patchwork(...base(out, '--point', '30,10', '--tap', 'res1', '--tap', 'down2'));
    expect(r.stderr).not.toMatch(/^error/m);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^res1: 30,10 \(nearest res1 position 32,12\) → best match \d+,\d+ on the input \(similarity/m,
    );
    expect(r.stdout).toMatch(/^down2: 30,10 → best match /m);
    expect(r.stdout).toMatch(/wrote .*out-\d+\.png/);
    const meta = await sharp(out).metadata();
    expect([meta.format, meta.width]).toEqual(['png', 8 + 3 * (48 + 8)]);
  });

  it('queries on the input, and a grid of points, at a working size', async () => {
    const out = outFile();
    const r = await patchwork(
      ...base(out, '--grid', '3', '--query-on', 'input', '--working-size', '24', '--tap', 'res1'),
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/grid of 3×3 query points on the input, taps res1/);
    expect(r.stderr).toMatch(/analysed at 24×16/);
    expect((await sharp(out).metadata()).format).toBe('png');
  });

  it('falls back to raw features for a style without a projection head, and says so', async () => {
    const out = outFile();
    const args = base(out, '--point', '0,0', '--tap', 'res1');
    args[2] = headless;
    const r = await patchwork(...args);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/no projection head \(H\).*raw encoder features/);
    expect(r.stderr).toMatch(/features: raw, L2-normalised/);
  });

  it('takes a SinCUT style: its StyleGAN2 encoder’s taps, projected by its head', async () => {
    const sincut = tmp.path('sincut');
    await saveTinySinCutStyle(sincut);
    const out = outFile();
    const args = base(out, '--point', '30,10');
    args[2] = sincut;
    const r = await patchwork(...args);
    expect(r.stderr).not.toMatch(/^error/m);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/features: projected by H/);
    expect(r.stdout).toMatch(/^input: 30,10 → best match \d+,\d+ on the input/m);
    // down1 and res1 at half resolution: position 15,5 is centred on pixel 30,10.
    expect(r.stdout).toMatch(/^down1: 30,10 → best match .* map 24×16,/m);
    expect(r.stdout).toMatch(/^res1: 30,10 → best match .* map 24×16,/m);
    expect((await sharp(out).metadata()).format).toBe('png');
    const bad = base(outFile(), '--point', '30,10', '--tap', 'down2');
    bad[2] = sincut;
    const refused = await patchwork(...bad);
    expect([refused.code, refused.stderr]).toEqual([
      2,
      expect.stringMatching(/unknown tap "down2": .*covers input, down1, res1/),
    ]);
  });

  it('exit 2 for a point outside the image, an unknown tap or bad flags', async () => {
    const outside = await patchwork(...base(outFile(), '--point', '48,5'));
    expect(outside.code).toBe(2);
    expect(outside.stderr).toMatch(/error: the point 48,5 is outside the 48×32 image/);

    const tap = await patchwork(...base(outFile(), '--point', '1,1', '--tap', 'res4'));
    expect(tap.code).toBe(2);
    expect(tap.stderr).toMatch(/unknown tap "res4".*input, down1, down2, res1/);

    const syntax = await patchwork(...base(outFile(), '--point', 'middle'));
    expect(syntax.code).toBe(2);
    expect(syntax.stderr).toMatch(/--point expects x,y/);

    const neither = await patchwork(...base(outFile()));
    expect(neither.code).toBe(2);
    expect(neither.stderr).toMatch(/--point x,y\) or a grid/);

    const opacity = await patchwork(...base(outFile(), '--point', '1,1', '--opacity', '2'));
    expect(opacity.code).toBe(2);

    const jpeg = await patchwork(...base(outFile('.jpg'), '--point', '1,1'));
    expect(jpeg.code).toBe(2);
    expect(jpeg.stderr).toMatch(/must name a \.png file/);
  });

  it('exit 1 for an unreadable or huge image, a missing style, or writing over the image', async () => {
    const junk = tmp.path('junk.png');
    await fs.writeFile(junk, 'not an image');
    const unreadable = await patchwork(
      'heatmap',
      '--style',
      style,
      '--image',
      junk,
      '--out',
      outFile(),
      '--point',
      '1,1',
    );
    expect(unreadable.code).toBe(1);
    expect(unreadable.stderr).toMatch(/error: .*junk\.png/);

    const bomb = tmp.path('bomb.png');
    await fs.writeFile(bomb, decompressionBomb());
    const huge = await patchwork(
      'heatmap',
      '--style',
      style,
      '--image',
      bomb,
      '--out',
      outFile(),
      '--point',
      '1,1',
    );
    expect(huge.code).toBe(1);
    expect(huge.stderr).toMatch(/too many pixels/);

    const noStyle = await patchwork(
      ...base(outFile(), '--point', '1,1').map((a) => (a === style ? tmp.path('nope') : a)),
    );
    expect(noStyle.code).toBe(1);
    expect(noStyle.stderr).toMatch(/No style folder/);

    const copy = tmp.path('copy.png');
    await fs.copyFile(image, copy);
    const over = await patchwork(
      'heatmap',
      '--style',
      style,
      '--image',
      copy,
      '--out',
      copy,
      '--point',
      '1,1',
      '--tap',
      'res1',
    );
    expect(over.code).toBe(1);
    expect(over.stderr).toMatch(/refusing to overwrite the input/);
  });
});
