/**
 * The studio under plain Node, as `patchwork serve` runs it: the real services, the engine
 * in a forked child process, the HTTP/WebSocket transport in front.
 */
import { existsSync } from 'node:fs';
import { PACKAGE_ROOT, packageVersion } from '../files/package-root';
import { Studio } from '../services/studio/studio';
import { WorkerHost, type EngineHostOptions } from '../services/worker-host';
import { nodeWorkerSpawner } from '../services/worker-host-node';
import { startServer, type RunningServer } from './server';
import { newToken } from './token';

// Found from the sources and from the built CLI alike (an installed package holds both: see
// package.json's files).
export const RENDERER_DIR = `${PACKAGE_ROOT}out/renderer`;
export const SAMPLES_DIR = `${PACKAGE_ROOT}resources/samples`;

export interface ServeStudioOptions {
  libraryDir: string;
  /** Folders the browser may name (besides the library and the samples). */
  allowedRoots: string[];
  host?: string;
  /** Names besides `host` that requests may give as Host (--allow-host). */
  allowHosts?: string[];
  port?: number;
  token?: string;
  rendererDir?: string | null;
  cancelGraceMs?: number;
  /** How long a watched file's size must hold still before it is converted (ms). */
  watchStableMs?: number;
}

export interface ServedStudio extends RunningServer {
  studio: Studio;
  token: string;
}

export async function serveStudio(opts: ServeStudioOptions): Promise<ServedStudio> {
  const token = opts.token ?? newToken();
  const newHost = (o: EngineHostOptions = {}) =>
    new WorkerHost(nodeWorkerSpawner(), { cancelGraceMs: opts.cancelGraceMs, ...o });
  const host = newHost();
  const studio = await Studio.open({
    libraryDir: opts.libraryDir,
    host,
    transport: 'serve',
    version: packageVersion(),
    samplesDir: existsSync(SAMPLES_DIR) ? SAMPLES_DIR : null,
    allowedRoots: opts.allowedRoots,
    spawnHost: newHost,
    // serve's library is its --library flag; the settings file lives in it.
    libraryFixed: true,
    ...(opts.watchStableMs !== undefined ? { watchStableMs: opts.watchStableMs } : {}),
  });
  const rendererDir =
    opts.rendererDir !== undefined
      ? opts.rendererDir
      : existsSync(`${RENDERER_DIR}/index.html`)
        ? RENDERER_DIR
        : null;
  // A refused token or host name (or a busy port) must not leave the engine process running.
  const server = await startServer({
    studio,
    token,
    host: opts.host,
    allowHosts: opts.allowHosts,
    port: opts.port,
    rendererDir,
  }).catch(async (err: unknown) => {
    await studio.dispose();
    throw err;
  });
  return {
    ...server,
    studio,
    token,
    close: async () => {
      await server.close();
      await studio.dispose();
    },
  };
}
