/**
 * Converting with a trained style: a one-off conversion job (queued), and the watched
 * folders that convert as images arrive (each in an engine process of its own: ../../watches.ts).
 * Both need a trained style and an allowed input and output.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { convertEncodingSchema } from '../../../../shared/convert-options';
import type { ParsedInput } from '../../../../shared/ipc';
import { findTrainedStyle } from '../../style-library';
import type { Watches } from '../../watches';
import type { Handlers, StudioContext } from '../context';
import { newJob, newJobId } from '../job-queue';
import { RequestError } from '../request-error';

type ConversionChannel =
  'convert:start' | 'watch:list' | 'watch:start' | 'watch:stop' | 'watch:remove';

export function conversionRoutes(ctx: StudioContext): Handlers<ConversionChannel> {
  const watching = (): Watches => {
    const watches = ctx.watches();
    if (!watches) {
      throw new RequestError('unsupported', 'watching folders is not available here');
    }
    return watches;
  };
  return {
    'convert:start': async (input) => ({ job: await startConversion(ctx, input) }),
    'watch:list': () => ({ watches: ctx.watches()?.list() ?? [] }),
    'watch:start': async (input) => ({ watch: await startWatch(ctx, watching(), input) }),
    'watch:stop': async (input) => ({ watch: await watching().stop(input.watchId) }),
    'watch:remove': async (input) => {
      await watching().remove(input.watchId);
      return { watchId: input.watchId };
    },
  };
}

async function startConversion(ctx: StudioContext, input: ParsedInput<'convert:start'>) {
  const { dir, name } = await findTrainedStyle(ctx.opts.libraryDir, input.styleId);
  const from = await ctx.paths.allowed(input.input, 'input');
  if (!(await fs.stat(from).catch(() => null))) {
    throw new RequestError('rejected', `the input ${from} does not exist`, [
      { path: 'input', message: 'does not exist' },
    ]);
  }
  const output = await ctx.paths.allowed(input.output, 'output');
  const id = newJobId();
  const snapshot = newJob(id, 'convert', `Convert with ${name}`);
  snapshot.convert = { styleId: input.styleId, input: from, output, files: [], progress: null };
  const settings = ctx.settings();
  return ctx.jobs.enqueue(snapshot, {
    type: 'convert',
    jobId: id,
    spec: {
      styleDir: dir,
      input: from,
      output,
      recursive: input.recursive ?? false,
      ...encodingBeyondFormat(input),
      format: input.format ?? 'same',
      backend: input.backend ?? settings.backend,
      engine: settings.engine,
      memoryBudgetMB: settings.memoryBudgetMB,
      ...ctx.paths.scanLimit(),
    },
  });
}

async function startWatch(ctx: StudioContext, watches: Watches, input: ParsedInput<'watch:start'>) {
  const { dir, name } = await findTrainedStyle(ctx.opts.libraryDir, input.styleId);
  const from = await ctx.paths.folder(input.input, 'input');
  const output = await ctx.paths.allowed(input.output, 'output');
  if (path.resolve(output) === path.resolve(from)) {
    throw new RequestError('rejected', 'output: choose a folder other than the watched one', [
      { path: 'output', message: 'must differ from the watched folder' },
    ]);
  }
  const settings = ctx.settings();
  return watches.start({
    styleId: input.styleId,
    styleName: name,
    styleDir: dir,
    input: from,
    output,
    recursive: input.recursive ?? false,
    format: input.format ?? 'same',
    backend: input.backend ?? settings.backend,
    engine: settings.engine,
    memoryBudgetMB: settings.memoryBudgetMB,
    encoding: encodingBeyondFormat(input),
  });
}

/** The request's encoding choices besides the format (quality, bit depth, profile, ...). */
function encodingBeyondFormat(input: ParsedInput<'convert:start'>) {
  return convertEncodingSchema.omit({ format: true }).parse(input);
}
