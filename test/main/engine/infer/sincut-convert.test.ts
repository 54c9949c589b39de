// Conversion opens a SinCUT style like any other (openStyleConversion, which the CLI and the
// studio's conversion jobs share): the StyleGAN2 generator tiled within the memory budget,
// the ResNet variant through CUT's seamless tiled translator, each equal to its untiled
// result; and a damaged SinCUT style is a StyleError that names the problem.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { openStyleConversion } from '../../../../main/engine/style/open-conversion';
import { StyleError } from '../../../../main/style/style-error';
import { failure } from '../../../support/failure';
import { randomImage, worstDiff } from '../../../support/float-images';
import { useTinySinCutStyles } from '../../../support/tiny-sincut-style';

const styles = useTinySinCutStyles('patchwork-sincut-convert-');

describe('openStyleConversion with a SinCUT style', () => {
  it('StyleGAN2: tiles from the budget equal explicit small tiles; no tensor left', async () => {
    const before = tf.memory().numTensors;
    const conv = await openStyleConversion(styles.stylegan2);
    expect(conv.preset).toBe('sincut');
    const x = randomImage(70, 54, 1);
    const whole = await conv.translate(x, { memoryBudgetMB: 1024 });
    const small = await conv.translate(x, { tile: 12 });
    expect(worstDiff(small.data, whole.data)).toBeLessThan(1e-5);
    // The style's noise is in the result: it is not the identity or a constant.
    expect(worstDiff(whole.data, x.data)).toBeGreaterThan(0.01);
    conv.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('ResNet variant: tiled through CUT’s seamless translator, equal to untiled', async () => {
    const before = tf.memory().numTensors;
    const tiled = await openStyleConversion(styles.resnet, { alwaysTiled: true });
    const plain = await openStyleConversion(styles.resnet);
    const x = randomImage(45, 37, 2);
    const a = await tiled.translate(x, { tile: 16 });
    const b = await plain.translate(x, {}); // small: untiled
    const worst = worstDiff(a.data, b.data);
    console.log(`ResNet SinCUT 45×37, tile 16 vs untiled: ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-5);
    tiled.dispose();
    plain.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a damaged SinCUT style is a StyleError naming the problem, and leaves no tensor', async () => {
    const before = tf.memory().numTensors;
    const noWeights = styles.tmp.path('no-weights');
    await fs.cp(styles.stylegan2, noWeights, { recursive: true });
    await fs.rm(path.join(noWeights, 'generator.bin'));
    const missing = await failure(openStyleConversion(noWeights), StyleError);
    expect([missing.code, missing.message]).toEqual([
      'missing-weights',
      expect.stringMatching(/generator weights are unusable/),
    ]);

    const badOptions = styles.tmp.path('bad-options');
    await fs.cp(styles.stylegan2, badOptions, { recursive: true });
    const file = path.join(badOptions, 'style.json');
    const meta = JSON.parse(await fs.readFile(file, 'utf8'));
    await fs.writeFile(file, JSON.stringify({ ...meta, options: { ...meta.options, ngf: -1 } }));
    const invalid = await failure(openStyleConversion(badOptions), StyleError);
    expect([invalid.code, invalid.message]).toEqual([
      'not-a-style',
      expect.stringMatching(/not a usable SinCUT style.*ngf/),
    ]);

    const otherShape = styles.tmp.path('other-shape');
    await fs.cp(styles.stylegan2, otherShape, { recursive: true });
    const f = path.join(otherShape, 'style.json');
    const m = JSON.parse(await fs.readFile(f, 'utf8'));
    await fs.writeFile(f, JSON.stringify({ ...m, options: { ...m.options, ngf: 16 } }));
    const shape = await failure(openStyleConversion(otherShape), StyleError);
    expect(shape.code).toBe('shape-mismatch');
    expect(tf.memory().numTensors).toBe(before);
  });
});
