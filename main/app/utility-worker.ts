/**
 * The engine's process in the desktop app: Electron's utilityProcess (the Node child that
 * works with the runAsNode fuse off), behind the services' WorkerProcess shape, speaking
 * the same protocol as the Node child `patchwork serve` uses.
 */
import { utilityProcess } from 'electron';
import type { SpawnWorker } from '../services/worker-host';

export function utilityWorkerSpawner(entry: string): SpawnWorker {
  return () => {
    const child = utilityProcess.fork(entry, [], {
      serviceName: 'Patchwork engine',
      stdio: 'inherit',
    });
    // Messages wait for the process to exist (postMessage before 'spawn' is not delivered).
    let spawned = false;
    const waiting: unknown[] = [];
    child.once('spawn', () => {
      spawned = true;
      for (const m of waiting.splice(0)) child.postMessage(m);
    });
    return {
      send: (message) => (spawned ? child.postMessage(message) : void waiting.push(message)),
      onMessage: (listener) => child.on('message', listener),
      onExit: (listener) => child.on('exit', (code) => listener({ code, signal: null })),
      kill: () => void child.kill(),
    };
  };
}
