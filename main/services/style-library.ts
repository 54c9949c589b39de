/**
 * The style library: one folder per style below `<library>/styles/`, each the output folder
 * of its training job (checkpoints/, previews/ and, once trained, style/ with style.json).
 * Reading it needs no engine: style.json describes the style.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { StyleInfo } from '../../shared/ipc';
import { changeStyleJson, readStyleSummary, type StyleSummary } from '../style/style-folder';

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
  const meta = await readStyleSummary(dir).catch(() => null);
  // No finished style (yet), or an unreadable one: the caller knows whether it is training.
  if (meta === null) return info;
  return {
    ...info,
    status: 'ready',
    name: meta.name ?? id,
    preset: meta.preset,
    thumbnail: meta.thumbnail,
    previews: meta.previews,
    created: meta.created,
    iterations: meta.iterations,
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

/**
 * The trained style `id` (its style.json says so): its folder and the name the artist sees.
 * A style that is not there, or not trained yet, is not found; a damaged one says what is wrong.
 */
export async function findTrainedStyle(
  libraryDir: string,
  id: string,
): Promise<{ dir: string; name: string }> {
  const dir = styleDir(libraryDir, id);
  const summary = await readStyleSummary(dir).catch((err: unknown) => {
    const why = err instanceof Error ? err.message : String(err);
    throw new StyleLibraryError('rejected', `the style "${id}" cannot be read: ${why}`);
  });
  if (!summary) throw new StyleLibraryError('not-found', `there is no trained style "${id}"`);
  return { dir, name: summary.name ?? id };
}

/** A trained style's summary; only those can be renamed or duplicated. */
async function trainedStyle(dir: string): Promise<StyleSummary> {
  const summary = await readStyleSummary(dir).catch(() => null);
  if (summary) return summary;
  throw notTrained();
}

function notTrained(): StyleLibraryError {
  return new StyleLibraryError('rejected', 'only a trained style can be renamed or duplicated');
}

/** Gives a trained style a new display name; its id (folder) stays, so nothing else moves. */
export async function renameStyle(libraryDir: string, id: string, name: string): Promise<void> {
  await ownedStyleFolder(libraryDir, id);
  if (!(await changeStyleJson(styleDir(libraryDir, id), { name }))) throw notTrained();
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
  const name = `${(await trainedStyle(from)).name ?? id} copy`;
  const copyId = await freeStyleId(libraryDir, name, taken);
  const to = styleDir(libraryDir, copyId);
  await fs.mkdir(styleOutDir(libraryDir, copyId), { recursive: true });
  try {
    await fs.cp(from, to, { recursive: true, errorOnExist: true, force: false });
    const changed = await changeStyleJson(to, { name, created: new Date().toISOString() });
    if (!changed) throw notTrained();
  } catch (err) {
    await fs.rm(styleOutDir(libraryDir, copyId), { recursive: true, force: true });
    throw err;
  }
  return copyId;
}
