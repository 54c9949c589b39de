/**
 * The PyTorch side of a benchmark: runs a Python script with Debian's interpreter (the one
 * with `python3-torch`; the `python3` on PATH may have no torch) and reads the JSON object it
 * prints last. Without torch the case prints one line saying so and carries on.
 */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const PYTHON = '/usr/bin/python3';
export const NOT_INSTALLED = 'PyTorch reference: not installed (apt-get install python3-torch)';

export type TorchStatus = { available: true; version: string } | { available: false };

let status: TorchStatus | null = null;

/** Whether `import torch` works under PYTHON (checked once). */
export function torchStatus(): TorchStatus {
  if (status) return status;
  const r = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  status =
    r.status === 0 && r.stdout.trim()
      ? { available: true, version: r.stdout.trim() }
      : { available: false };
  return status;
}

/** Absolute path of a script next to this file. */
export function benchScript(name: string): string {
  return fileURLToPath(new URL(name, import.meta.url));
}

/**
 * Run `script args…` and parse the last stdout line that is a JSON object. The script's
 * stderr (progress, warnings) is kept only to explain a failure: a non-zero exit (its last
 * stderr lines in the message) or a missing JSON line rejects.
 */
export function runPython<T>(script: string, args: string[], timeoutMs = 600_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (out += chunk));
    child.stderr.on('data', (chunk: string) => (err = (err + chunk).slice(-4000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        const tail = err.trim().split('\n').slice(-3).join(' | ');
        reject(new Error(`${script} exited with ${signal ?? code}${tail ? `: ${tail}` : ''}`));
        return;
      }
      const json = out
        .split('\n')
        .reverse()
        .find((l) => l.trim().startsWith('{'));
      if (!json) {
        reject(new Error(`${script} printed no JSON result`));
        return;
      }
      resolve(JSON.parse(json) as T);
    });
  });
}

/** `{ crop: 64, 'd-patch': 64 }` → `['--crop', '64', '--d-patch', '64']`: a script's flags. */
export function flagArgs(flags: Record<string, string | number | boolean>): string[] {
  return Object.entries(flags).flatMap(([k, v]) => [`--${k}`, String(v)]);
}

/** What a timing script prints: the timed iterations and its own process's resources. */
export interface TorchTimes {
  torch: string;
  threads: number;
  /** Seconds of each timed iteration (warm-up ones left out). */
  times: number[];
  peak_rss_mib: number;
  /** The process's user + system CPU seconds, for the other-load estimate. */
  cpu_s: number;
}
