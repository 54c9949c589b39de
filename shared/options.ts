/**
 * Training options: one typed, validated object with named presets (CUT, FastCUT), following
 * the reference's options (options/base_options.py, models/cut_model.py) and the paper's
 * Table of settings (Park et al. 2020, Sec. 4 and Appendix). Every option that changes the
 * math is here; the resolved object is saved beside every checkpoint.
 */
import { z } from 'zod';
import { minDiscriminatorSide } from './geometry';
import { plainMessage } from './plain-issues';

export const PRESETS = ['cut', 'fastcut'] as const;
export type Preset = (typeof PRESETS)[number];

/** How a training image becomes a crop. `resize_and_crop` scales the short side to loadSize
 * (Patchwork's default); `square_resize_and_crop` squashes to loadSize² as the reference does. */
export const PREPROCESS_MODES = [
  'resize_and_crop',
  'square_resize_and_crop',
  'crop',
  'scale_width',
  'scale_width_and_crop',
  'none',
] as const;
export type PreprocessMode = (typeof PREPROCESS_MODES)[number];

/** Encoder taps are named semantically: the reflect-padded input, the two downsampling convs
 * (before their instance norm) and residual blocks 1…N. */
export type NceTap = 'input' | 'down1' | 'down2' | `res${number}`;

const tapName = z
  .string()
  .regex(/^(input|down1|down2|res[1-9][0-9]*)$/, 'expected input, down1, down2 or resN');

const positiveInt = z.number().int('must be a whole number').positive('must be positive');
/** A 32-bit unsigned seed. */
const seed = z
  .number()
  .int()
  .min(0)
  .max(2 ** 32 - 1);

/** The fields of TrainOptions; trainOptionsSchema adds strictness and cross-field checks. */
export const trainOptionsFields = z.object({
  preset: z.enum(PRESETS),
  // networks
  ngf: positiveInt.max(512),
  ndf: positiveInt.max(512),
  nBlocks: positiveInt.max(64),
  nLayersD: positiveInt.max(6),
  initGain: z.number().positive().max(10),
  // losses
  lambdaGAN: z.number().min(0),
  lambdaNCE: z.number().min(0),
  nceIdt: z.boolean(),
  flipEquivariance: z.boolean(),
  nceTaps: z.array(tapName).min(1),
  numPatches: positiveInt.max(65536),
  nceT: z.number().positive(),
  projectionDim: positiveInt.max(4096),
  minibatchNegatives: z.boolean(),
  // optimisation
  lr: z.number().positive().max(1),
  beta1: z.number().min(0).lt(1),
  beta2: z.number().min(0).lt(1),
  epochs: z.number().int().min(0),
  decayEpochs: z.number().int().min(0),
  batchSize: positiveInt.max(256),
  // data
  loadSize: positiveInt.max(8192),
  cropSize: positiveInt.max(8192),
  preprocess: z.enum(PREPROCESS_MODES),
  flip: z.boolean(),
  seed,
});

export const trainOptionsSchema = trainOptionsFields.strict().superRefine((o, ctx) => {
  if (o.cropSize % 4 !== 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['cropSize'],
      message: `must be a multiple of 4 (the generator downsamples twice), got ${o.cropSize}`,
    });
  }
  const minSide = minDiscriminatorSide(o.nLayersD);
  if (o.preprocess.endsWith('crop') && o.cropSize < minSide) {
    ctx.addIssue({
      code: 'custom',
      path: ['cropSize'],
      message: `must be at least ${minSide} for the ${o.nLayersD}-layer discriminator, got ${o.cropSize}`,
    });
  }
  const usesLoad = o.preprocess !== 'crop' && o.preprocess !== 'none';
  if (usesLoad && o.preprocess.endsWith('crop') && o.loadSize < o.cropSize) {
    ctx.addIssue({
      code: 'custom',
      path: ['loadSize'],
      message: `must be at least the crop size (${o.cropSize}), got ${o.loadSize}`,
    });
  }
  o.nceTaps.forEach((tap, i) => {
    const m = /^res(\d+)$/.exec(tap);
    if (m && Number(m[1]) > o.nBlocks) {
      ctx.addIssue({
        code: 'custom',
        path: ['nceTaps', i],
        message: `tap "${tap}" does not exist: the generator has ${o.nBlocks} residual blocks`,
      });
    }
  });
  if (new Set(o.nceTaps).size !== o.nceTaps.length) {
    ctx.addIssue({ code: 'custom', path: ['nceTaps'], message: 'taps must not repeat' });
  }
});

export type TrainOptions = z.infer<typeof trainOptionsSchema>;

/** The reference's taps (nce_layers 0,4,8,12,16); with fewer blocks the last is the last block. */
export function defaultTaps(nBlocks: number): NceTap[] {
  const taps: NceTap[] = ['input', 'down1', 'down2', 'res1'];
  const last = Math.min(5, nBlocks);
  if (last > 1) taps.push(`res${last}`);
  return taps;
}

const COMMON = {
  ngf: 64,
  ndf: 64,
  nBlocks: 9,
  nLayersD: 3,
  initGain: 0.02,
  lambdaGAN: 1,
  nceT: 0.07,
  numPatches: 256,
  projectionDim: 256,
  minibatchNegatives: false,
  lr: 2e-4,
  beta1: 0.5,
  beta2: 0.999,
  batchSize: 1,
  loadSize: 286,
  cropSize: 256,
  preprocess: 'resize_and_crop' as PreprocessMode,
  flip: true,
  seed: 0,
};

/** CUT: quality. FastCUT: speed (λ_NCE 10, no identity term, flip equivariance, shorter). */
export const PRESET_DEFAULTS: Record<Preset, Omit<TrainOptions, 'nceTaps'>> = {
  cut: {
    ...COMMON,
    preset: 'cut',
    lambdaNCE: 1,
    nceIdt: true,
    flipEquivariance: false,
    epochs: 200,
    decayEpochs: 200,
  },
  fastcut: {
    ...COMMON,
    preset: 'fastcut',
    lambdaNCE: 10,
    nceIdt: false,
    flipEquivariance: true,
    epochs: 150,
    decayEpochs: 50,
  },
};

export class OptionsError extends Error {
  constructor(
    message: string,
    readonly issues: { option: string; message: string }[],
  ) {
    super(message);
    this.name = 'OptionsError';
  }
}

/**
 * Resolve user options against a preset and validate them. Unknown options, wrong types and
 * inconsistent values fail here with a message naming the option.
 */
export function resolveTrainOptions(input: Record<string, unknown>): TrainOptions {
  const preset = input.preset ?? 'cut';
  if (typeof preset !== 'string' || !(PRESETS as readonly string[]).includes(preset)) {
    throw new OptionsError(
      `option "preset": unknown preset ${JSON.stringify(preset)} (expected one of ${PRESETS.join(', ')})`,
      [{ option: 'preset', message: 'unknown preset' }],
    );
  }
  const base = PRESET_DEFAULTS[preset as Preset];
  const defined = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
  const nBlocks = typeof defined.nBlocks === 'number' ? defined.nBlocks : base.nBlocks;
  const merged = {
    ...base,
    nceTaps: defaultTaps(Number.isInteger(nBlocks) && nBlocks > 0 ? nBlocks : 1),
    ...defined,
  };
  return parseWith(trainOptionsSchema, merged);
}

/** Validate an already-complete options object (e.g. one read back from a checkpoint). */
export function validateTrainOptions(input: unknown): TrainOptions {
  return parseWith(trainOptionsSchema, input);
}

function parseWith<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({
    option: issue.path.length ? issue.path.join('.') : '(options)',
    message: plainMessage(issue),
  }));
  const text = issues.map((i) => `option "${i.option}": ${i.message}`).join('; ');
  throw new OptionsError(text, issues);
}

// ─── SinCUT: one source image, one target image ─────────────────────────────────────────────

/**
 * SinCUT (Park et al. 2020, Sec. 5.3; reference models/sincut_model.py): single-image
 * training. Its own options object, because the data, networks and losses differ from
 * folder training: random zoom of each whole image by U(zoomMin, 1) per axis (one draw per
 * minibatch, as the reference), crops from a grid over the zoomed image, flips; StyleGAN2 G
 * (or CUT's ResNet G) and D, the non-saturating GAN loss with R1 on real patches, PatchNCE
 * with negatives from the whole minibatch, the L1 identity loss. `reference` is the
 * reference code's setting (64² crops, batch 16); `paper` the paper's (128² crops for G, D
 * judging random 64² windows of them).
 */
export const SINCUT_PRESETS = ['reference', 'paper'] as const;
export type SinCutPreset = (typeof SINCUT_PRESETS)[number];
export const SINCUT_GENERATORS = ['stylegan2', 'resnet'] as const;

/** The fields of SinCutOptions; sincutOptionsSchema adds strictness and cross-field checks. */
export const sincutOptionsFields = z.object({
  preset: z.literal('sincut'),
  variant: z.enum(SINCUT_PRESETS),
  netG: z.enum(SINCUT_GENERATORS),
  ngf: positiveInt.max(256),
  ndf: positiveInt.max(256),
  nBlocks: positiveInt.max(32),
  lambdaGAN: z.number().min(0),
  lambdaNCE: z.number().min(0),
  lambdaIdt: z.number().min(0),
  lambdaR1: z.number().min(0),
  nceIdt: z.boolean(),
  nceTaps: z.array(tapName).min(1),
  numPatches: positiveInt.max(4096),
  nceT: z.number().positive(),
  projectionDim: positiveInt.max(4096),
  lr: z.number().positive().max(1),
  beta1: z.number().min(0).lt(1),
  beta2: z.number().min(0).lt(1),
  epochs: z.number().int().min(0),
  decayEpochs: z.number().int().min(0),
  /** The reference pretends one image holds 100,000 crops: an epoch is that over batchSize. */
  cropsPerEpoch: positiveInt,
  batchSize: positiveInt.max(256),
  cropSize: positiveInt.max(1024),
  /** The side D judges: a power of 2 no larger than cropSize (a random window of each crop). */
  dPatch: positiveInt.max(1024),
  zoomMin: z.number().gt(0).max(1),
  flip: z.boolean(),
  seed,
});

export const sincutOptionsSchema = sincutOptionsFields.strict().superRefine((o, ctx) => {
  const issue = (path: string, message: string) =>
    ctx.addIssue({ code: 'custom', path: [path], message });
  const unit = o.netG === 'resnet' ? 4 : 2;
  if (o.cropSize % unit !== 0) {
    issue(
      'cropSize',
      `must be a multiple of ${unit} for the ${o.netG} generator, got ${o.cropSize}`,
    );
  }
  const log = Math.log2(o.dPatch);
  if (!Number.isInteger(log) || log < 3) {
    issue('dPatch', `must be a power of 2, at least 8, got ${o.dPatch}`);
  }
  if (o.dPatch > o.cropSize) {
    issue('dPatch', `must not exceed cropSize (${o.cropSize}), got ${o.dPatch}`);
  }
  o.nceTaps.forEach((tap, i) => {
    const m = /^res(\d+)$/.exec(tap);
    const blocks = o.netG === 'stylegan2' ? Math.floor(o.nBlocks / 2) : o.nBlocks;
    if ((m && Number(m[1]) > blocks) || (o.netG === 'stylegan2' && tap === 'down2')) {
      ctx.addIssue({
        code: 'custom',
        path: ['nceTaps', i],
        message: `tap "${tap}" does not exist in the ${o.netG} generator`,
      });
    }
  });
});

export type SinCutOptions = z.infer<typeof sincutOptionsSchema>;

const SINCUT_REFERENCE: SinCutOptions = {
  preset: 'sincut',
  variant: 'reference',
  netG: 'stylegan2',
  ngf: 10,
  ndf: 8,
  nBlocks: 6,
  lambdaGAN: 1,
  lambdaNCE: 4,
  lambdaIdt: 1,
  lambdaR1: 1,
  nceIdt: true,
  nceTaps: ['input', 'down1', 'res2'],
  numPatches: 1,
  nceT: 0.07,
  projectionDim: 256,
  lr: 2e-3,
  beta1: 0,
  beta2: 0.99,
  epochs: 8,
  decayEpochs: 8,
  cropsPerEpoch: 100000,
  batchSize: 16,
  cropSize: 64,
  dPatch: 64,
  zoomMin: 1 / 3,
  flip: true,
  seed: 0,
};

export const SINCUT_DEFAULTS: Record<SinCutPreset, SinCutOptions> = {
  reference: SINCUT_REFERENCE,
  paper: { ...SINCUT_REFERENCE, variant: 'paper', cropSize: 128, dPatch: 64 },
};

/** Steps per epoch: the reference's 100,000 crops over the batch size. */
export function sincutStepsPerEpoch(o: SinCutOptions): number {
  return Math.max(1, Math.floor(o.cropsPerEpoch / o.batchSize));
}

/** Resolve SinCUT options against its `variant` (default `reference`) and validate them. */
export function resolveSinCutOptions(input: Record<string, unknown>): SinCutOptions {
  const variant = input.variant ?? 'reference';
  if (typeof variant !== 'string' || !(SINCUT_PRESETS as readonly string[]).includes(variant)) {
    throw new OptionsError(
      `option "variant": unknown SinCUT setting ${JSON.stringify(variant)} (expected one of ${SINCUT_PRESETS.join(', ')})`,
      [{ option: 'variant', message: 'unknown variant' }],
    );
  }
  const defined = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
  const base = SINCUT_DEFAULTS[variant as SinCutPreset];
  const netG = defined.netG ?? base.netG;
  // CUT's ResNet generator has no res2 at layer 4: the reference's CUT taps, as far as it has.
  const taps =
    netG === 'resnet' ? defaultTaps(Number(defined.nBlocks ?? base.nBlocks)) : base.nceTaps;
  return parseWith(sincutOptionsSchema, { ...base, nceTaps: taps, preset: 'sincut', ...defined });
}

export function validateSinCutOptions(input: unknown): SinCutOptions {
  return parseWith(sincutOptionsSchema, input);
}
