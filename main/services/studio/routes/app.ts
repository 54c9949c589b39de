/**
 * The studio itself and the files it shows: what it is and where its samples are
 * ('app:info'), the native pickers, a look into a folder, and an image's pyramid for the
 * before/after viewer's zoom ('image:tiles'; its tiles are served at /tiles).
 */
import path from 'node:path';
import { scanFolder } from '../../folder-scan';
import type { Handlers, StudioContext } from '../context';
import { RequestError } from '../request-error';

type AppChannel = 'app:info' | 'dialog:pick' | 'folder:inspect' | 'image:tiles';

export function appRoutes(ctx: StudioContext): Handlers<AppChannel> {
  const { opts } = ctx;
  return {
    'app:info': () => {
      const s = opts.samplesDir;
      return {
        version: opts.version,
        transport: opts.transport,
        libraryDir: opts.libraryDir,
        samples: s
          ? {
              source: path.join(s, 'source'),
              target: path.join(s, 'target'),
              heldOut: path.join(s, 'held-out'),
            }
          : null,
        canPick: Boolean(opts.pick),
        allowedRoots: ctx.paths.policy.roots ?? [],
      };
    },
    'dialog:pick': async (input) => {
      if (!opts.pick) {
        throw new RequestError('unsupported', 'file dialogs exist only in the desktop app');
      }
      return { paths: await opts.pick(input.kind, input.title) };
    },
    'folder:inspect': async (input) => {
      const dir = await ctx.paths.folder(input.path, 'path');
      return scanFolder(dir, input.recursive ?? false, ctx.paths.policy.roots);
    },
    'image:tiles': async (input) => {
      const abs = await ctx.paths.readableFile(input.path);
      if (!abs) {
        throw new RequestError(
          'not-found',
          `path: ${input.path} is not an image the studio may show`,
          [{ path: 'path', message: 'not an allowed image' }],
        );
      }
      try {
        return await ctx.pyramid.info(abs);
      } catch (err) {
        throw new RequestError('rejected', err instanceof Error ? err.message : String(err));
      }
    },
  };
}
