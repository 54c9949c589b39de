/**
 * Every channel's handler, from the groups beside this file (one per area of the studio), and
 * the dispatch of a validated request to its handler. The map's type names every channel of
 * shared/ipc.ts: a channel added there without a handler here does not compile.
 */
import type { Channel, ParsedInput, ParsedRequest, RequestOutputs } from '../../../../shared/ipc';
import type { Handlers, StudioContext } from '../context';
import { appRoutes } from './app';
import { conversionRoutes } from './conversion';
import { fileRoutes } from './files';
import { heatmapRoutes } from './heatmaps';
import { jobRoutes } from './jobs';
import { settingsRoutes } from './settings';
import { styleRoutes } from './styles';
import { trainingRoutes } from './training';

export type Routes = Handlers<Channel>;

export function studioRoutes(ctx: StudioContext): Routes {
  return {
    ...appRoutes(ctx),
    ...jobRoutes(ctx),
    ...styleRoutes(ctx),
    ...trainingRoutes(ctx),
    ...conversionRoutes(ctx),
    ...heatmapRoutes(ctx),
    ...settingsRoutes(ctx),
    ...fileRoutes(ctx),
  };
}

/** Runs a validated request's handler (a throw, even a synchronous one, rejects). */
export async function dispatch(routes: Routes, request: ParsedRequest): Promise<unknown> {
  return run(routes, request.channel, request.input);
}

async function run<C extends Channel>(
  routes: Routes,
  channel: C,
  input: ParsedInput<C>,
): Promise<RequestOutputs[C]> {
  const handler: Routes[C] = routes[channel];
  return handler(input);
}
