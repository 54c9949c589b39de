/**
 * The engine's process under plain Node (`patchwork serve`, tests): a forked child speaking
 * the worker protocol over Node's IPC channel. A TypeScript entry runs through tsx's loader,
 * as the `patchwork` command itself does.
 */
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { SpawnWorker } from './worker-host';

/** The worker entry next to the sources (main/worker/engine-worker.ts). */
export const WORKER_ENTRY = fileURLToPath(new URL('../worker/engine-worker.ts', import.meta.url));

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
