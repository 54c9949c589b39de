/**
 * style.json, the self-description of a style folder, as zod schemas: the one definition of
 * the format (every type here is inferred from them). A CUT-family style (CUT, FastCUT, an
 * imported CycleGAN generator) and a SinCUT style share the folder's layout and differ in
 * `kind`, their options and their generator entry. `format` carries the version; styles that
 * say 'patchwork-style-1' are this version's, whatever else they hold.
 */
import { z } from 'zod';
import type { TrainingSummary } from '../../shared/jobs';
import { PRESETS, sincutOptionsSchema, type TrainOptions } from '../../shared/options';

export const STYLE_FORMAT_VERSION = 1;
export const STYLE_FORMAT = 'patchwork-style-1';
/** Any Patchwork style format, newer and older ones included: tells "newer" from "not ours". */
export const STYLE_FORMAT_PATTERN = /^patchwork-style-(\d+)$/;

/** The files of a style folder, relative to it. */
export const STYLE_FILES = {
  meta: 'style.json',
  weightsConfig: 'generator.json',
  weightsData: 'generator.bin',
  headConfig: 'head.json',
  headData: 'head.bin',
  thumbnail: 'thumbnail.png',
  previews: 'previews',
} as const;

/** The generator networks a CUT-family style can hold; absent in style.json: 'cut-resnet'. */
export const CUT_ARCHITECTURES = ['cut-resnet', 'cyclegan-resnet'] as const;
export type CutArchitecture = (typeof CUT_ARCHITECTURES)[number];
/** SinCUT's own generator; a SinCUT style trained with CUT's ResNet says 'cut-resnet'. */
export const SINCUT_ARCHITECTURE = 'sincut-stylegan2';
export const SINCUT_ARCHITECTURES = [SINCUT_ARCHITECTURE, 'cut-resnet'] as const;
export type StyleArchitecture = CutArchitecture | typeof SINCUT_ARCHITECTURE;

const positiveInt = z.number().int().positive();
const fileNames = z.object({ config: z.string(), data: z.string() });
const preview = z.object({ source: z.string(), output: z.string() });

/** A JSON object (not null, not a list). */
export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

// A CUT style's options and every style's training summary are history: read back as they
// were saved (an option added since must not make older styles unreadable), so only their
// being objects is checked. SinCUT's options build its generator, so they are validated.
const recordedTrainOptions = z.custom<TrainOptions>(isRecord, 'must be an object');
const recordedTraining = z.custom<TrainingSummary>(isRecord, 'must be an object');

/** The projection head H a style carries: heatmaps project encoder features through it. */
export const headMetaSchema = z.object({
  /** The encoder taps H projects, in the order of its MLPs (mlp_0, mlp_1, …). */
  taps: z.array(z.string()),
  /** Channels of each tap's features (H's input widths). */
  channels: z.array(z.number()),
  /** Projection dimension (H's output width). */
  dim: positiveInt,
  weights: fileNames,
});

const common = {
  format: z.literal(STYLE_FORMAT),
  name: z.string(),
  training: recordedTraining,
  /** ISO 8601. */
  created: z.string(),
  /** File names relative to the style folder. */
  weights: fileNames,
  thumbnail: z.string().nullable(),
  previews: z.array(preview),
};

export const cutStyleMetaSchema = z.object({
  ...common,
  kind: z.literal('cut'),
  preset: z.enum(PRESETS),
  /** The resolved training options. */
  options: recordedTrainOptions,
  generator: z.object({
    ngf: positiveInt,
    nBlocks: positiveInt,
    /** Absent: 'cut-resnet'. */
    architecture: z.enum(CUT_ARCHITECTURES).optional(),
  }),
  /** Absent (older styles, imported generators): heatmaps use raw encoder features. */
  head: headMetaSchema.nullish(),
});

export const sincutStyleMetaSchema = z.object({
  ...common,
  kind: z.literal('sincut'),
  preset: z.literal('sincut'),
  options: sincutOptionsSchema,
  generator: z.object({
    architecture: z.enum(SINCUT_ARCHITECTURES),
    ngf: positiveInt,
    nBlocks: positiveInt,
    /** StyleGAN2 widths at full and half resolution. */
    c0: positiveInt.optional(),
    c1: positiveInt.optional(),
  }),
  head: headMetaSchema,
  /** Seed of the position-based noise used at inference. */
  noiseSeed: z.number().int(),
});

export type HeadMeta = z.infer<typeof headMetaSchema>;
export type CutStyleMeta = z.infer<typeof cutStyleMetaSchema>;
export type SinCutStyleMeta = z.infer<typeof sincutStyleMetaSchema>;
export type StyleMeta = CutStyleMeta | SinCutStyleMeta;
export type StyleKind = StyleMeta['kind'];
export type StylePreviewFiles = CutStyleMeta['previews'];

// What the library and the studio read: every field on its own, a bad one is left out, so a
// half-written or foreign style.json still lists (by its folder name) instead of failing.
const lenientString = z.string().nullable().catch(null);
export const styleSummarySchema = z.object({
  name: lenientString,
  preset: lenientString,
  kind: z.enum(['cut', 'sincut']).nullable().catch(null),
  thumbnail: lenientString,
  created: lenientString,
  previews: z.array(preview.nullable().catch(null)).catch([]),
  training: z
    .object({ iterations: z.number().nullable().catch(null) })
    .nullable()
    .catch(null),
  weights: z.object({ config: lenientString }).nullable().catch(null),
});

/** style.json as written: one space per level, one trailing newline. */
export function styleJsonText(meta: StyleMeta | Record<string, unknown>): string {
  return `${JSON.stringify(meta, null, 1)}\n`;
}
