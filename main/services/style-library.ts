/**
 * The style library: one folder per style below `<library>/styles/`, each the output folder
 * of its training job (checkpoints/, previews/ and, once trained, style/ with style.json).
 * Reading it needs no engine: style.json describes the style.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { StyleInfo } from '../../shared/ipc';
import { writeJsonAtomic } from '../files/atomic-file';

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

// ─── managing styles ───────────────────────────────────────────────────────────────────────

/** A style that cannot be changed as asked, with the reply's error code. */
export class StyleLibraryError extends Error {
  constructor(
    readonly code: 'not-found' | 'rejected' | 'forbidden-path',
    message: string,
  ) {
    super(message);
    this.name = 'StyleLibraryError';
  }
}

/**
 * A style's folder, checked to be a direct child of `<library>/styles/` after symbolic links
 * are followed: nothing a style id names can lead outside the library.
 */
export async function ownedStyleFolder(libraryDir: string, id: string): Promise<string> {
  const root = stylesRoot(libraryDir);
  const dir = styleOutDir(libraryDir, id);
  if (path.dirname(dir) !== root || id.startsWith('.')) {
    throw new StyleLibraryError('forbidden-path', `"${id}" is not a style of this library`);
  }
  const stat = await fs.lstat(dir).catch(() => null);
  if (!stat) throw new StyleLibraryError('not-found', `there is no style "${id}"`);
  if (!stat.isDirectory()) {
    // A link (or anything else) in place of a style folder is never followed.
    throw new StyleLibraryError('forbidden-path', `the style "${id}" is not a folder here`);
  }
  const [realDir, realRoot] = await Promise.all([fs.realpath(dir), fs.realpath(root)]);
  if (path.dirname(realDir) !== realRoot) {
    throw new StyleLibraryError('forbidden-path', `the style "${id}" lies outside the library`);
  }
  return dir;
}

async function readMeta(dir: string): Promise<Record<string, unknown>> {
  const file = path.join(dir, 'style.json');
  try {
    const meta = JSON.parse(await fs.readFile(file, 'utf8')) as unknown;
    if (meta && typeof meta === 'object' && !Array.isArray(meta)) {
      return meta as Record<string, unknown>;
    }
  } catch {
    // fall through
  }
  throw new StyleLibraryError('rejected', 'only a trained style can be renamed or duplicated');
}

/** Writes style.json through a temporary file and a rename: never half a file. */
async function writeMeta(dir: string, meta: Record<string, unknown>): Promise<void> {
  await writeJsonAtomic(path.join(dir, 'style.json'), meta, { indent: 2 });
}

/** Gives a trained style a new display name; its id (folder) stays, so nothing else moves. */
export async function renameStyle(libraryDir: string, id: string, name: string): Promise<void> {
  await ownedStyleFolder(libraryDir, id);
  const dir = styleDir(libraryDir, id);
  const meta = await readMeta(dir);
  await writeMeta(dir, { ...meta, name });
}

/** Removes a style's whole folder (checkpoints, previews, the style), inside the library only. */
export async function deleteStyle(libraryDir: string, id: string): Promise<void> {
  const dir = await ownedStyleFolder(libraryDir, id);
  await fs.rm(dir, { recursive: true, force: false });
}

/**
 * Copies a trained style (its style/ folder, not the training checkpoints) under a new id
 * and name: "<name> copy". Returns the new id.
 */
export async function duplicateStyle(
  libraryDir: string,
  id: string,
  taken: ReadonlySet<string>,
): Promise<string> {
  await ownedStyleFolder(libraryDir, id);
  const from = styleDir(libraryDir, id);
  const meta = await readMeta(from);
  const name = `${typeof meta.name === 'string' ? meta.name : id} copy`;
  const copyId = await freeStyleId(libraryDir, name, taken);
  const to = styleDir(libraryDir, copyId);
  await fs.mkdir(styleOutDir(libraryDir, copyId), { recursive: true });
  try {
    await fs.cp(from, to, { recursive: true, errorOnExist: true, force: false });
    await writeMeta(to, { ...meta, name, created: new Date().toISOString() });
  } catch (err) {
    await fs.rm(styleOutDir(libraryDir, copyId), { recursive: true, force: true });
    throw err;
  }
  return copyId;
}
