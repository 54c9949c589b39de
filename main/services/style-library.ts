/**
 * The style library: one folder per style below `<library>/styles/`, each the output folder
 * of its training job (checkpoints/, previews/ and, once trained, style/ with style.json).
 * Reading it needs no engine: style.json describes the style.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { StyleInfo } from '../../shared/ipc';

export const STYLES_FOLDER = 'styles';

export function stylesRoot(libraryDir: string): string {
  return path.join(libraryDir, STYLES_FOLDER);
}

/** The job's output folder of a style id. */
export function styleOutDir(libraryDir: string, id: string): string {
  return path.join(stylesRoot(libraryDir), id);
}

/** The trained style folder (style.json, weights) of a style id. */
export function styleDir(libraryDir: string, id: string): string {
  return path.join(styleOutDir(libraryDir, id), 'style');
}

/** A folder-safe id from a display name: "Sepia, warm!" → "sepia-warm". */
export function slugify(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60)
    .replace(/-+$/, '');
  return slug || 'style';
}

/** The first of `slug`, `slug-2`, `slug-3`, … that is neither on disk nor taken. */
export async function freeStyleId(
  libraryDir: string,
  name: string,
  taken: ReadonlySet<string>,
): Promise<string> {
  const base = slugify(name);
  for (let n = 1; ; n++) {
    const id = n === 1 ? base : `${base}-${n}`;
    if (taken.has(id)) continue;
    const exists = await fs.stat(styleOutDir(libraryDir, id)).then(
      () => true,
      () => false,
    );
    if (!exists) return id;
  }
}

interface StyleJson {
  name?: unknown;
  preset?: unknown;
  thumbnail?: unknown;
  previews?: unknown;
  created?: unknown;
  training?: { iterations?: unknown };
}

/** Every style folder with what its style.json says (training jobs are merged by the caller). */
export async function listStyles(libraryDir: string): Promise<StyleInfo[]> {
  const root = stylesRoot(libraryDir);
  const entries = await fs.readdir(root, { withFileTypes: true }).catch(() => []);
  const styles: StyleInfo[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    styles.push(await readStyle(libraryDir, entry.name));
  }
  return styles.sort((a, b) => (b.created ?? '').localeCompare(a.created ?? ''));
}

async function readStyle(libraryDir: string, id: string): Promise<StyleInfo> {
  const dir = styleDir(libraryDir, id);
  const info: StyleInfo = {
    id,
    name: id,
    status: 'failed',
    dir,
    preset: null,
    thumbnail: null,
    previews: [],
    created: null,
    iterations: null,
    jobId: null,
  };
  let meta: StyleJson;
  try {
    meta = JSON.parse(await fs.readFile(path.join(dir, 'style.json'), 'utf8')) as StyleJson;
  } catch {
    return info; // no finished style (yet): the caller knows whether it is training
  }
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  const inDir = (file: string | null) => (file ? path.join(dir, file) : null);
  const previews = Array.isArray(meta.previews) ? meta.previews : [];
  return {
    ...info,
    status: 'ready',
    name: str(meta.name) ?? id,
    preset: str(meta.preset),
    thumbnail: inDir(str(meta.thumbnail)),
    previews: previews
      .map((p: { source?: unknown; output?: unknown }) => ({
        source: inDir(str(p?.source)),
        output: inDir(str(p?.output)),
      }))
      .filter((p): p is { source: string; output: string } => !!p.source && !!p.output),
    created: str(meta.created),
    iterations: typeof meta.training?.iterations === 'number' ? meta.training.iterations : null,
  };
}
