/**
 * Measured step times, kept in the library (`estimates.json`) per configuration and backend,
 * so New style shows a duration at once for anything measured before. The key holds only what
 * changes a step's cost (networks, crop, batch, patches, backend), not the seed or the
 * learning rate. A file that cannot be read is started afresh; writes are atomic.
 */
import path from 'node:path';
import { CoalescedJsonWriter, readJsonFile } from '../files/atomic-file';

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
  /** The one read of the file, shared by calls made before it finishes. */
  private loading: Promise<Record<string, StoredEstimate>> | null = null;
  private readonly writer: CoalescedJsonWriter;

  constructor(readonly file: string) {
    this.writer = new CoalescedJsonWriter(
      file,
      () => ({ format: FORMAT, entries: this.entries ?? {} }),
      { indent: 2, makeFolder: true },
    );
  }

  static fileIn(libraryDir: string): string {
    return path.join(libraryDir, ESTIMATES_FILE);
  }

  async get(key: string): Promise<StoredEstimate | null> {
    return (await this.load())[key] ?? null;
  }

  async set(key: string, value: StoredEstimate): Promise<void> {
    const entries = await this.load();
    entries[key] = value;
    await this.writer.save();
  }

  private load(): Promise<Record<string, StoredEstimate>> {
    this.loading ??= this.read().then((entries) => (this.entries = entries));
    return this.loading;
  }

  private async read(): Promise<Record<string, StoredEstimate>> {
    let entries: Record<string, StoredEstimate> = {};
    try {
      const raw = (await readJsonFile(this.file)) as { format?: unknown; entries?: unknown } | null;
      if (raw?.format === FORMAT && raw.entries && typeof raw.entries === 'object') {
        entries = Object.fromEntries(
          Object.entries(raw.entries as Record<string, StoredEstimate>).filter(
            ([, v]) => typeof v?.secondsPerStep === 'number' && v.secondsPerStep > 0,
          ),
        );
      }
    } catch {
      // no file yet, or not one we can read: measure afresh
    }
    return entries;
  }
}
