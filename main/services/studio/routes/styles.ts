/**
 * The style library's requests: the list (with the status of styles still training), and
 * rename, delete, duplicate and reveal. A style being trained keeps its name and folder
 * until its job ends. The library's folders and files are ../../style-library.ts's.
 */
import { promises as fs } from 'node:fs';
import type { StyleInfo } from '../../../../shared/ipc';
import { isFinished } from '../../../../shared/ipc-jobs';
import {
  deleteStyle,
  duplicateStyle,
  freeStyleId,
  listStyles,
  ownedStyleFolder,
  renameStyle,
  styleDir,
  styleOutDir,
  stylesRoot,
} from '../../style-library';
import type { Handlers, StudioContext } from '../context';
import { RequestError } from '../request-error';

type StyleChannel =
  'styles:list' | 'style:rename' | 'style:delete' | 'style:duplicate' | 'style:reveal';

/** The library's styles, those still training marked so (with their job and name). */
export async function styles(ctx: StudioContext): Promise<StyleInfo[]> {
  const found = await listStyles(ctx.opts.libraryDir);
  for (const job of ctx.jobs.all) {
    if (job.kind !== 'train' || !job.train || isFinished(job.status)) continue;
    const style = found.find((s) => s.id === job.train?.styleId);
    const status = job.status === 'paused' ? 'paused' : 'training';
    if (style) Object.assign(style, { status, jobId: job.id, name: job.title });
  }
  return found;
}

/** A style id no job or folder uses yet, from the style's name, and its output folder. */
export async function newStyleFolder(
  ctx: StudioContext,
  name: string,
): Promise<{ styleId: string; out: string }> {
  const libraryDir = ctx.opts.libraryDir;
  await fs.mkdir(stylesRoot(libraryDir), { recursive: true });
  const styleId = await freeStyleId(libraryDir, name, ctx.jobs.trainedStyleIds());
  return { styleId, out: styleOutDir(libraryDir, styleId) };
}

export function styleRoutes(ctx: StudioContext): Handlers<StyleChannel> {
  const libraryDir = ctx.opts.libraryDir;

  const style = async (id: string): Promise<StyleInfo> => {
    const found = (await styles(ctx)).find((s) => s.id === id);
    if (!found) throw new RequestError('not-found', `there is no style "${id}"`);
    return found;
  };

  const notTraining = (styleId: string, what: string): void => {
    const training = ctx.jobs.all.some(
      (j) => j.train?.styleId === styleId && !isFinished(j.status),
    );
    if (training) {
      throw new RequestError(
        'rejected',
        `the style is still training; stop it first, then it can be ${what}`,
      );
    }
  };

  return {
    'styles:list': async () => ({ styles: await styles(ctx) }),
    'style:rename': async (input) => {
      notTraining(input.styleId, 'renamed');
      await renameStyle(libraryDir, input.styleId, input.name);
      ctx.emit({ type: 'styles-changed' });
      return { style: await style(input.styleId) };
    },
    'style:delete': async (input) => {
      notTraining(input.styleId, 'deleted');
      await deleteStyle(libraryDir, input.styleId);
      ctx.emit({ type: 'styles-changed' });
      return { styleId: input.styleId };
    },
    'style:duplicate': async (input) => {
      const id = await duplicateStyle(libraryDir, input.styleId, ctx.jobs.trainedStyleIds());
      ctx.emit({ type: 'styles-changed' });
      return { style: await style(id) };
    },
    'style:reveal': async (input) => {
      const dir = await ownedStyleFolder(libraryDir, input.styleId);
      const inside = styleDir(libraryDir, input.styleId);
      const shown = (await fs.stat(inside).catch(() => null)) ? inside : dir;
      if (!ctx.opts.reveal) return { path: shown, revealed: false };
      await ctx.opts.reveal(shown);
      return { path: shown, revealed: true };
    },
  };
}
