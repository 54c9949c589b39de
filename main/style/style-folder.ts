/**
 * The style folder's owner, TF.js-free: finds style.json, reads and validates it (a
 * StyleError that names the folder and the problem: no folder, no style.json, not JSON, a
 * format from a newer or an older Patchwork, an unknown kind or architecture, fields of the
 * wrong shape), classifies a style (CUT family or SinCUT, and its generator) and writes
 * style.json atomically. Everything that reads a style folder asks this module; the engine
 * (main/engine/style/) adds the weights.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { writeFileAtomic } from '../files/atomic-file';
import { StyleError } from './style-error';
import {
  CUT_ARCHITECTURES,
  cutStyleMetaSchema,
  isRecord,
  sincutStyleMetaSchema,
  STYLE_FILES,
  STYLE_FORMAT,
  STYLE_FORMAT_PATTERN,
  STYLE_FORMAT_VERSION,
  styleJsonText,
  styleSummarySchema,
  type CutArchitecture,
  type CutStyleMeta,
  type StyleArchitecture,
  type StyleKind,
  type StyleMeta,
} from './style-json';

/** style.json of the style folder `dir`. */
export function styleJsonPath(dir: string): string {
  return path.join(dir, STYLE_FILES.meta);
}

// ─── reading ───────────────────────────────────────────────────────────────────────────────

/** The folder exists and is a folder; a StyleError ('missing-folder', 'not-a-style') if not. */
export async function checkStyleFolder(root: string): Promise<void> {
  const stat = await fs.stat(root).catch(() => null);
  if (!stat) throw new StyleError('missing-folder', `No style folder at ${root}`);
  if (!stat.isDirectory()) {
    throw new StyleError('not-a-style', `${root} is a file, not a style folder`);
  }
}

/** A style folder's style.json, checked whole: every way it is unusable is a StyleError. */
export async function readStyleMeta(dir: string): Promise<StyleMeta> {
  const root = path.resolve(dir);
  await checkStyleFolder(root);
  const file = styleJsonPath(root);
  const text = await fs.readFile(file, 'utf8').catch(() => null);
  if (text === null) {
    throw new StyleError(
      'not-a-style',
      `${root} is not a Patchwork style folder (no ${STYLE_FILES.meta})`,
    );
  }
  return parseStyleMeta(parseJson(text, file), file);
}

/**
 * Validates a parsed style.json (`file` names it in messages). The format is checked first,
 * so a style from a newer Patchwork says so rather than listing fields it does not know.
 */
export function parseStyleMeta(raw: unknown, file: string): StyleMeta {
  if (!isRecord(raw) || raw.format !== STYLE_FORMAT) {
    throw formatError(isRecord(raw) ? raw.format : undefined, file);
  }
  const kind = raw.kind;
  if (kind === 'sincut') return check(sincutStyleMetaSchema, raw, file, 'SinCUT');
  if (kind !== 'cut') {
    throw new StyleError(
      'unsupported-format',
      `${file}: style kind ${JSON.stringify(kind)} is unknown`,
    );
  }
  const architecture = isRecord(raw.generator) ? raw.generator.architecture : undefined;
  if (architecture !== undefined && !CUT_ARCHITECTURES.some((a) => a === architecture)) {
    throw new StyleError(
      'unsupported-format',
      `${file}: generator architecture ${JSON.stringify(architecture)} is unknown ` +
        `(this version reads ${CUT_ARCHITECTURES.join(', ')})`,
    );
  }
  return check(cutStyleMetaSchema, raw, file, 'CUT');
}

function formatError(format: unknown, file: string): StyleError {
  const m = typeof format === 'string' ? STYLE_FORMAT_PATTERN.exec(format) : null;
  const version = m ? Number(m[1]) : null;
  const age = version === null ? 'unknown' : version > STYLE_FORMAT_VERSION ? 'newer' : 'older';
  const why = {
    newer: 'the style was written by a newer Patchwork; update Patchwork to use it',
    older: 'the style was written by an older Patchwork whose format this version no longer reads',
    unknown: 'it is not a Patchwork style format',
  }[age];
  return new StyleError(
    'unsupported-format',
    `${file}: format ${JSON.stringify(format)} is not one this version reads ` +
      `(${STYLE_FORMAT}); ${why}`,
    { formatAge: age },
  );
}

function check<S extends z.ZodType>(schema: S, raw: unknown, file: string, kind: string) {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const issues = result.error.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.join('.') : '(style)'}: ${i.message}`)
    .join('; ');
  throw new StyleError('not-a-style', `${file}: not a usable ${kind} style (${issues})`, {
    cause: result.error,
  });
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new StyleError('not-a-style', `${file} is not valid JSON (${(err as Error).message})`, {
      cause: err,
    });
  }
}

// ─── classifying ───────────────────────────────────────────────────────────────────────────

export interface StyleClass {
  /** 'cut': CUT, FastCUT or an imported CycleGAN generator; 'sincut': one image pair. */
  kind: StyleKind;
  architecture: StyleArchitecture;
}

/** What kind of style `meta` describes, and its generator network. */
export function classify(meta: StyleMeta): StyleClass {
  if (meta.kind === 'sincut') return { kind: 'sincut', architecture: meta.generator.architecture };
  return { kind: 'cut', architecture: cutArchitecture(meta) };
}

/** A CUT-family style's generator network ('cut-resnet' when style.json names none). */
export function cutArchitecture(meta: CutStyleMeta): CutArchitecture {
  return meta.generator.architecture ?? 'cut-resnet';
}

// ─── the library's view ────────────────────────────────────────────────────────────────────

/** What the library shows of a style; file names are absolute. */
export interface StyleSummary {
  name: string | null;
  preset: string | null;
  kind: StyleKind | null;
  thumbnail: string | null;
  previews: { source: string; output: string }[];
  created: string | null;
  iterations: number | null;
  /** The weights index (generator.json unless style.json names another). */
  weightsConfig: string;
}

/**
 * The display fields of a style folder's style.json, each read on its own (the library lists
 * styles of any format, and one bad field does not hide the others). Null when there is no
 * readable style.json; a StyleError ('not-a-style') when it is not a JSON object.
 */
export async function readStyleSummary(dir: string): Promise<StyleSummary | null> {
  const raw = await readStyleRecord(dir);
  if (raw === null) return null;
  const s = styleSummarySchema.parse(raw);
  const inDir = (file: string | null) => (file ? path.join(dir, file) : null);
  return {
    name: s.name,
    preset: s.preset,
    kind: s.kind,
    thumbnail: inDir(s.thumbnail),
    previews: s.previews
      .filter((p) => p !== null)
      .map((p) => ({ source: path.join(dir, p.source), output: path.join(dir, p.output) })),
    created: s.created,
    iterations: s.training?.iterations ?? null,
    weightsConfig: s.weights?.config ?? STYLE_FILES.weightsConfig,
  };
}

/** style.json as a plain object; null when unreadable, a StyleError when not an object. */
async function readStyleRecord(dir: string): Promise<Record<string, unknown> | null> {
  const file = styleJsonPath(dir);
  const text = await fs.readFile(file, 'utf8').catch(() => null);
  if (text === null) return null;
  const raw = parseJson(text, file);
  if (!isRecord(raw)) {
    throw new StyleError('not-a-style', `${file} is not a style description (a JSON object)`);
  }
  return raw;
}

// ─── writing ───────────────────────────────────────────────────────────────────────────────

/** Writes style.json in `dir` atomically (never half a file), validated first. */
export async function writeStyleMeta(dir: string, meta: StyleMeta): Promise<void> {
  const file = styleJsonPath(path.resolve(dir));
  parseStyleMeta(meta, file);
  await writeFileAtomic(file, styleJsonText(meta));
}

/** The fields a style's owner may change in place; the weights never change this way. */
export interface StyleJsonChange {
  name?: string;
  created?: string;
}

/**
 * Changes display fields of style.json in place, atomically, keeping the rest exactly as
 * written (also fields and formats this version does not know). False when `dir` holds no
 * readable style.json object.
 */
export async function changeStyleJson(dir: string, change: StyleJsonChange): Promise<boolean> {
  const raw = await readStyleRecord(dir).catch(() => null);
  if (raw === null) return false;
  await writeFileAtomic(styleJsonPath(dir), styleJsonText({ ...raw, ...change }));
  return true;
}
