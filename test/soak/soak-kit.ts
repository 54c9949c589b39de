/**
 * What both soaks share: the seeded randomness that lets a failing soak be replayed, the real
 * `patchwork` command run as a child process (so SIGKILL hits what a user runs), the small
 * input images, and the checks every output folder must pass (each output decodes; no
 * temporaries are left). Counting, not timing: the machine is shared, so waits are generous
 * and no figure here depends on how fast anything ran.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { Rng } from '../../main/engine/rng';
import { isOwnTemporary } from '../../main/files/atomic-file';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** The soak's own random draws (kill moments, image sizes, arrival order), from one seed. */
export class SoakRandom {
  private readonly rng: Rng;
  constructor(readonly seed: number) {
    this.rng = new Rng(seed);
  }
  uniform(lo: number, hi: number): number {
    return this.rng.uniform(lo, hi);
  }
  int(n: number): number {
    return Math.floor(this.rng.next() * n);
  }
  chance(p: number): boolean {
    return this.rng.next() < p;
  }
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /**
   * Both streams as they arrived. The CLI's log lines (`converted …`, `checkpoint at step …`,
   * `watching …`) go to stderr, its results to stdout: parse this, not one stream.
   */
  output: string;
  /** Whether this soak killed it (SIGKILL) before it ended by itself. */
  killed: boolean;
  /** Whether it ignored Ctrl-C for the whole grace period and had to be killed. */
  hung: boolean;
}

export interface RunningCli {
  child: ChildProcess;
  done: Promise<CliRun>;
  /** SIGKILL now, unless it has ended already; resolves with the run either way. */
  kill(): Promise<CliRun>;
  /**
   * Ends it as Ctrl-C would (SIGINT), and waits; a run still alive `graceMs` later is
   * SIGKILLed and comes back with `hung` set, so a command that ignores Ctrl-C fails the soak
   * instead of stalling it.
   */
  interrupt(graceMs?: number): Promise<CliRun>;
  /** Everything it printed so far, both streams as they arrived. */
  output(): string;
  /** Resolves once a line it printed (either stream) matches `pattern` (true), or the run ended first (false). */
  printed(pattern: RegExp): Promise<boolean>;
}

/** `patchwork <args>` through tsx, as `npm run patchwork` runs it: the current source tree. */
export function startCli(args: string[]): RunningCli {
  const child = spawn(process.execPath, ['--import', 'tsx', 'main/cli/bin.ts', ...args], {
    cwd: REPO,
    env: { ...process.env, FORCE_COLOR: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let killed = false;
  let hung = false;
  let ended = false;
  let all = '';
  const watchers: { pattern: RegExp; resolve: (seen: boolean) => void }[] = [];
  const heard = () => {
    for (const w of watchers.splice(0)) {
      if (w.pattern.test(all)) w.resolve(true);
      else watchers.push(w);
    }
  };
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
    all += d.toString();
    heard();
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
    all += d.toString();
    heard();
  });
  const done = new Promise<CliRun>((resolve) => {
    child.on('close', (code, signal) => {
      ended = true;
      for (const w of watchers.splice(0)) w.resolve(w.pattern.test(all));
      resolve({ code, signal, stdout: out, stderr: err, output: all, killed, hung });
    });
  });
  return {
    child,
    done,
    output: () => all,
    printed: (pattern) =>
      pattern.test(all) || ended
        ? Promise.resolve(pattern.test(all))
        : new Promise((resolve) => watchers.push({ pattern, resolve })),
    kill: () => {
      if (!ended && child.exitCode === null && child.signalCode === null) {
        killed = child.kill('SIGKILL');
      }
      return done;
    },
    interrupt: (graceMs = 60_000) => {
      if (ended) return done;
      child.kill('SIGINT');
      const timer = setTimeout(() => {
        if (ended) return;
        hung = true;
        child.kill('SIGKILL');
      }, graceMs);
      return done.finally(() => clearTimeout(timer));
    },
  };
}

/** Resolves after `ms`, or as soon as `run` ends: true if the time ran out first. */
export function waitOrEnd(ms: number, run: RunningCli): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(true), ms);
    void run.done.then(() => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A small seeded picture (smooth gradients plus noise), written as PNG or JPEG. */
export async function writeImage(
  file: string,
  width: number,
  height: number,
  seed: number,
): Promise<void> {
  const px = Buffer.alloc(width * height * 3);
  const rng = new Rng(seed);
  const phase = rng.uniform(0, 6.28);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      px[i] = (128 + 100 * Math.sin(x / 7 + phase) + rng.int(20)) & 255;
      px[i + 1] = (128 + 100 * Math.cos(y / 5 + phase)) & 255;
      px[i + 2] = ((x * y + seed * 31) / 3) & 255;
    }
  }
  const img = sharp(px, { raw: { width, height, channels: 3 } });
  await (file.endsWith('.png') ? img.png() : img.jpeg({ quality: 90 })).toFile(file);
}

/** The bytes of an encoded image, as an in-memory PNG or JPEG (for slow or replaced writes). */
export async function encodeImage(
  format: 'png' | 'jpg',
  width: number,
  height: number,
  seed: number,
): Promise<Buffer> {
  const px = Buffer.alloc(width * height * 3);
  const rng = new Rng(seed);
  for (let i = 0; i < px.length; i++) px[i] = (rng.int(64) + (i % 191)) & 255;
  const img = sharp(px, { raw: { width, height, channels: 3 } });
  return format === 'png' ? img.png().toBuffer() : img.jpeg({ quality: 90 }).toBuffer();
}

/** Every file below `dir` (relative, '/'-separated), hidden ones included. */
export async function listFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (d: string): Promise<void> => {
    const entries = await fs.readdir(d, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else found.push(path.relative(dir, p).split(path.sep).join('/'));
    }
  };
  await walk(dir);
  return found.sort();
}

/**
 * What a killed run may leave and a finished one must not: temporaries of files/atomic-file,
 * of checkpoint writes (`.tmp-…` folders' contents, set-aside `.old` folders) and the output
 * folder's job locks (jobs/convert/output-lock.ts).
 */
export function isLeftoverTemporary(relative: string): boolean {
  return relative
    .split('/')
    .some(
      (part) =>
        isOwnTemporary(part) ||
        part.startsWith('.tmp-') ||
        /^\..*\.(old|tmp)$/.test(part) ||
        /^\.patchwork-job-.*\.lock$/.test(part),
    );
}

/** How many temporaries a run said it removed on start (left by the run killed before it). */
export function temporariesCleaned(output: string): number {
  let n = 0;
  for (const m of output.matchAll(/^removed (\d+) stale temporary file/gm)) n += Number(m[1]);
  return n;
}

const IMAGE = /\.(png|jpe?g|webp|tiff?|avif)$/i;

export function isImageName(name: string): boolean {
  return IMAGE.test(name) && !path.basename(name).startsWith('.');
}

/** Decoded pixels of an image, or null when sharp cannot decode it (a corrupt output). */
export async function decodePixels(file: string): Promise<Buffer | null> {
  try {
    return await sharp(file, { failOn: 'error' }).raw().toBuffer();
  } catch {
    return null;
  }
}

export function section(title: string): string {
  return `\n${title}\n${'-'.repeat(title.length)}`;
}
