/**
 * The engine's process under plain Node (`patchwork serve`, tests): a forked child speaking
 * the worker protocol over Node's IPC channel. A TypeScript entry runs through tsx's loader,
 * as `npm run patchwork` itself does.
 */
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { SpawnWorker } from './worker-host';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/**
 * The worker entry: run from the sources (tsx, Vitest), the one beside them
 * (main/worker/engine-worker.ts); in the built CLI (out/cli/, one folder of chunks, see
 * vite.app.config.ts) the worker bundle built with it.
 */
export const WORKER_ENTRY = import.meta.url.endsWith('.ts')
  ? path.join(HERE, '..', 'worker', 'engine-worker.ts')
  : path.join(HERE, 'engine-worker.js');

export function nodeWorkerSpawner(entry: string = WORKER_ENTRY): SpawnWorker {
  return () => {
    const execArgv = entry.endsWith('.ts')
      ? ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href]
      : [];
    const child = fork(entry, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    return {
      send: (message) => {
        if (child.connected) child.send(message);
      },
      onMessage: (listener) => child.on('message', listener),
      onExit: (listener) => child.on('exit', (code, signal) => listener({ code, signal })),
      kill: () => void child.kill('SIGKILL'),
    };
  };
}
