/**
 * Measured step times, kept in the library (`estimates.json`) per configuration and backend,
 * so New style shows a duration at once for anything measured before. The key holds only what
 * changes a step's cost (networks, crop, batch, patches, backend), not the seed or the
 * learning rate. A file that cannot be read is started afresh; writes are atomic.
 */
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

export const ESTIMATES_FILE = 'estimates.json';
const FORMAT = 'patchwork-estimates-1';

export interface StoredEstimate {
  secondsPerStep: number;
  backend: string;
  measuredAt: string;
  contended: boolean;
}

/** Options that do not change what a step computes. */
const COSTLESS = new Set(['seed', 'lr', 'beta1', 'beta2', 'epochs', 'decayEpochs', 'name']);

/** A stable key: the preset, the backend asked for, and the cost-bearing options, sorted. */
export function estimateKey(
  preset: string,
  backend: string,
  options: Record<string, unknown>,
): string {
  const kept = Object.keys(options)
    .filter((k) => !COSTLESS.has(k) && options[k] !== undefined)
    .sort()
    .map((k) => [k, options[k]]);
  return JSON.stringify([preset, backend, kept]);
}

export class EstimateCache {
  private entries: Record<string, StoredEstimate> | null = null;
  private writing: Promise<void> = Promise.resolve();

  constructor(readonly file: string) {}

  static fileIn(libraryDir: string): string {
    return path.join(libraryDir, ESTIMATES_FILE);
  }

  async get(key: string): Promise<StoredEstimate | null> {
    return (await this.load())[key] ?? null;
  }

  async set(key: string, value: StoredEstimate): Promise<void> {
    const entries = await this.load();
    entries[key] = value;
    const body = `${JSON.stringify({ format: FORMAT, entries }, null, 2)}\n`;
    const file = this.file;
    const write = this.writing
      .catch(() => undefined)
      .then(async () => {
        await fs.mkdir(path.dirname(file), { recursive: true });
        const temp = path.join(path.dirname(file), `.${path.basename(file)}.${randomUUID()}.tmp`);
        await fs.writeFile(temp, body);
        await fs.rename(temp, file);
      });
    this.writing = write;
    await write;
  }

  private async load(): Promise<Record<string, StoredEstimate>> {
    if (this.entries) return this.entries;
    let entries: Record<string, StoredEstimate> = {};
    try {
      const raw = JSON.parse(await fs.readFile(this.file, 'utf8')) as {
        format?: unknown;
        entries?: unknown;
      };
      if (raw.format === FORMAT && raw.entries && typeof raw.entries === 'object') {
        entries = Object.fromEntries(
          Object.entries(raw.entries as Record<string, StoredEstimate>).filter(
            ([, v]) => typeof v?.secondsPerStep === 'number' && v.secondsPerStep > 0,
          ),
        );
      }
    } catch {
      // no file yet, or not one we can read: measure afresh
    }
    this.entries = entries;
    return entries;
  }
}
