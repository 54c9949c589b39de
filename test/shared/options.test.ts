// Options are the boundary where user input meets the math: every mistake must fail here,
// naming the option, before any tensor is made.
import { describe, expect, it } from 'vitest';
import {
  defaultTaps,
  OptionsError,
  PRESET_DEFAULTS,
  resolveTrainOptions,
  validateTrainOptions,
} from '../../shared/options';

function failure(input: Record<string, unknown>): OptionsError {
  try {
    resolveTrainOptions(input);
  } catch (err) {
    if (err instanceof OptionsError) return err;
    throw err;
  }
  throw new Error(`expected ${JSON.stringify(input)} to be refused`);
}

describe('presets', () => {
  it('CUT and FastCUT differ exactly where the paper says', () => {
    const cut = resolveTrainOptions({ preset: 'cut' });
    const fast = resolveTrainOptions({ preset: 'fastcut' });
    expect([cut.lambdaNCE, cut.nceIdt, cut.flipEquivariance, cut.epochs, cut.decayEpochs]).toEqual([
      1,
      true,
      false,
      200,
      200,
    ]);
    expect([
      fast.lambdaNCE,
      fast.nceIdt,
      fast.flipEquivariance,
      fast.epochs,
      fast.decayEpochs,
    ]).toEqual([10, false, true, 150, 50]);
    for (const o of [cut, fast]) {
      expect([o.lr, o.beta1, o.beta2, o.nceT, o.numPatches, o.initGain]).toEqual([
        2e-4, 0.5, 0.999, 0.07, 256, 0.02,
      ]);
      expect(o.nceTaps).toEqual(['input', 'down1', 'down2', 'res1', 'res5']);
    }
  });

  it('defaults to CUT and keeps overrides', () => {
    const o = resolveTrainOptions({ ngf: 32, lambdaNCE: 2 });
    expect([o.preset, o.ngf, o.lambdaNCE, o.ndf]).toEqual(['cut', 32, 2, PRESET_DEFAULTS.cut.ndf]);
  });

  it('moves the last default tap to the last block when there are fewer than five', () => {
    expect(defaultTaps(3)).toEqual(['input', 'down1', 'down2', 'res1', 'res3']);
    expect(defaultTaps(1)).toEqual(['input', 'down1', 'down2', 'res1']);
    expect(resolveTrainOptions({ nBlocks: 2 }).nceTaps).toEqual([
      'input',
      'down1',
      'down2',
      'res1',
      'res2',
    ]);
  });

  it('round-trips through validation (as read back from a checkpoint)', () => {
    const o = resolveTrainOptions({ preset: 'fastcut', ngf: 16 });
    expect(validateTrainOptions(JSON.parse(JSON.stringify(o)))).toEqual(o);
  });
});

describe('bad options fail at validation, naming the option', () => {
  it.each([
    [{ preset: 'turbo' }, 'preset', /unknown preset "turbo"/],
    [{ ngf: -8 }, 'ngf', /must be positive/],
    [{ ngf: 2.5 }, 'ngf', /must be a whole number/],
    [{ cropSize: 250 }, 'cropSize', /multiple of 4/],
    [{ cropSize: 256, loadSize: 200 }, 'loadSize', /at least the crop size \(256\)/],
    [{ cropSize: 16 }, 'cropSize', /at least 24 for the 3-layer discriminator/],
    [
      { nBlocks: 4, nceTaps: ['input', 'res5'] },
      'nceTaps.1',
      /does not exist: the generator has 4 residual blocks/,
    ],
    [{ nceTaps: ['input', 'mid'] }, 'nceTaps.1', /expected input, down1, down2 or resN/],
    [{ nceTaps: ['res1', 'res1'] }, 'nceTaps', /must not repeat/],
    [{ lr: 0 }, 'lr', /must be more than 0/],
    [{ beta1: 1 }, 'beta1', /must be less than 1/],
    [{ nceT: -0.07 }, 'nceT', /must be more than 0/],
    [{ preprocess: 'stretch' }, 'preprocess', /resize_and_crop/],
    [{ ngff: 64 }, '(options)', /ngff/],
  ])('%j → option %s', (input, option, message) => {
    const err = failure(input as Record<string, unknown>);
    expect(err.issues.map((i) => i.option)).toContain(option);
    expect(err.message).toMatch(message);
    if (option !== '(options)') expect(err.message).toContain(`option "${option}"`);
  });
});
