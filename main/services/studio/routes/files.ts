/**
 * The studio's own file browser and upload inbox, for a browser tab under `patchwork serve`:
 * a folder's listing within the allowed folders ('folder:browse', ../../folder-browser.ts),
 * images dropped on the page sent in chunks into the library's inbox ('inbox:*',
 * ../../inbox.ts), where a conversion can read them, and the inbox's size and emptying
 * (../../inbox-upkeep.ts).
 */
import os from 'node:os';
import path from 'node:path';
import type { BrowsePlace } from '../../../../shared/ipc-files';
import { browseFolder } from '../../folder-browser';
import type { Handlers, StudioContext } from '../context';
import { RequestError } from '../request-error';

type FileChannel =
  | 'folder:browse'
  | 'inbox:begin'
  | 'inbox:chunk'
  | 'inbox:finish'
  | 'inbox:abort'
  | 'inbox:usage'
  | 'inbox:empty';

export function fileRoutes(ctx: StudioContext): Handlers<FileChannel> {
  const { opts } = ctx;
  const places = (): BrowsePlace[] => {
    const list: BrowsePlace[] = [];
    const add = (label: string, p: string) => {
      if (!list.some((x) => x.path === path.resolve(p)))
        list.push({ label, path: path.resolve(p) });
    };
    for (const root of opts.allowedRoots ?? [os.homedir()]) add(path.basename(root) || root, root);
    add('Library', opts.libraryDir);
    add('Uploads', ctx.inbox.root);
    if (opts.samplesDir) add('Samples', opts.samplesDir);
    return list;
  };
  return {
    'folder:browse': async (input) => {
      const listing = await browseFolder(ctx.paths.policy, places(), input.path);
      if (!listing) {
        throw new RequestError(
          'forbidden-path',
          `path: ${input.path ?? ''} is outside the folders this studio may use`,
          [{ path: 'path', message: 'outside the allowed folders' }],
        );
      }
      return listing;
    },
    'inbox:begin': (input) => ctx.inbox.begin(input.name, input.size, input.folder),
    'inbox:chunk': async (input) => {
      const bytes = Buffer.from(input.data, 'base64');
      return { received: await ctx.inbox.chunk(input.uploadId, input.offset, bytes) };
    },
    'inbox:finish': async (input) => ({ path: await ctx.inbox.finish(input.uploadId) }),
    'inbox:abort': async (input) => {
      await ctx.inbox.abort(input.uploadId);
      return { uploadId: input.uploadId };
    },
    'inbox:usage': () => ctx.inboxUpkeep.usage(),
    'inbox:empty': async () => {
      const removed = await ctx.inboxUpkeep.empty();
      return { removed, usage: await ctx.inboxUpkeep.usage() };
    },
  };
}
