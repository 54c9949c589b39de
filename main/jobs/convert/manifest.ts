/**
 * The conversion manifest: a small JSON file in the output folder that makes re-running a
 * conversion (or restarting the watcher) cheap and safe. For each output it records which
 * input it was made from and that input's size and modification time (and, on request, a
 * SHA-256 of its bytes), the style's identity and the settings. A file whose record still
 * matches is skipped; a changed input, another style or other settings convert it again.
 *
 *   .patchwork-convert.json
 *   {
 *     "format": "patchwork-convert-1",
 *     "settings": { "<key>": ConvertSettings },            key = settingsKey(settings)
 *     "outputs":  { "<output path relative to the folder, '/'-separated>":
 *                   { input, size, mtimeMs, sha256?, style, settings, at } },
 *     "failures": { "<absolute input path>":
 *                   { size, mtimeMs, sha256?, style, settings, reason, message, at } }
 *   }
 *
 * Failures are kept so a watcher restart does not retry (and report again) a bad file that
 * has not changed since; a batch run retries them anyway.
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { CoalescedJsonWriter, readJsonFile } from '../../files/atomic-file';
import { readStyleSummary } from '../../style/style-folder';
import { STYLE_FILES } from '../../style/style-json';
import type { ConvertSettings } from './convert-settings';

export const MANIFEST_FILE = '.patchwork-convert.json';
export const MANIFEST_FORMAT = 'patchwork-convert-1';

/** What identifies an input's contents without reading it (plus a hash, when asked for). */
export interface InputStamp {
  size: number;
  mtimeMs: number;
  sha256?: string;
}

export interface OutputRecord extends InputStamp {
  input: string;
  style: string;
  settings: string;
  /** ISO 8601, when the output was written. */
  at: string;
}

export interface FailureRecord extends InputStamp {
  style: string;
  settings: string;
  reason: string;
  message: string;
  at: string;
}

interface ManifestData {
  format: typeof MANIFEST_FORMAT;
  settings: Record<string, ConvertSettings>;
  outputs: Record<string, OutputRecord>;
  failures: Record<string, FailureRecord>;
}

/** The conversion a record must match to count as done: style, settings, input contents. */
export interface Wanted {
  input: string;
  stamp: InputStamp;
  style: string;
  settings: string;
}

export class ConvertManifest {
  private readonly writer: CoalescedJsonWriter;

  private constructor(
    readonly file: string,
    private readonly data: ManifestData,
    /** Why an existing manifest was not used (then everything is converted again). */
    readonly warning: string | null,
  ) {
    this.writer = new CoalescedJsonWriter(file, () => this.data);
  }

  /** Reads the manifest of an output folder; a missing folder or file is an empty manifest. */
  static async open(outputRoot: string): Promise<ConvertManifest> {
    const file = path.join(path.resolve(outputRoot), MANIFEST_FILE);
    const empty = (): ManifestData => ({
      format: MANIFEST_FORMAT,
      settings: {},
      outputs: {},
      failures: {},
    });
    let raw: unknown;
    try {
      raw = await readJsonFile(file);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      return new ConvertManifest(file, empty(), `${file} is unreadable (${why}); starting afresh`);
    }
    if (raw === null) return new ConvertManifest(file, empty(), null);
    if (!isManifest(raw)) {
      const warning = `${file} is not a ${MANIFEST_FORMAT} manifest; starting afresh`;
      return new ConvertManifest(file, empty(), warning);
    }
    return new ConvertManifest(file, raw, null);
  }

  /** Output names (relative, as recorded) and the inputs they were made from. */
  claims(): Map<string, string> {
    return new Map(Object.entries(this.data.outputs).map(([rel, r]) => [rel, r.input]));
  }

  /** Whether `relative` was made from exactly this input, style and settings. */
  isCurrent(relative: string, want: Wanted): boolean {
    const r = this.data.outputs[relative];
    return (
      r !== undefined &&
      r.input === want.input &&
      r.style === want.style &&
      r.settings === want.settings &&
      sameContents(r, want.stamp)
    );
  }

  /** The recorded failure of this very input (unchanged, same style and settings), if any. */
  failedBefore(want: Wanted): FailureRecord | null {
    const r = this.data.failures[want.input];
    const same = r && r.style === want.style && r.settings === want.settings;
    return same && sameContents(r, want.stamp) ? r : null;
  }

  recordOutput(relative: string, want: Wanted, settings: ConvertSettings): void {
    this.data.settings[want.settings] = settings;
    this.data.outputs[relative] = {
      input: want.input,
      ...want.stamp,
      style: want.style,
      settings: want.settings,
      at: new Date().toISOString(),
    };
    delete this.data.failures[want.input];
  }

  recordFailure(want: Wanted, settings: ConvertSettings, reason: string, message: string): void {
    this.data.settings[want.settings] = settings;
    this.data.failures[want.input] = {
      ...want.stamp,
      style: want.style,
      settings: want.settings,
      reason,
      message,
      at: new Date().toISOString(),
    };
  }

  /** Writes the manifest atomically; calls during a write are folded into one more. */
  save(): Promise<void> {
    return this.writer.save();
  }
}

function sameContents(recorded: InputStamp, now: InputStamp): boolean {
  if (recorded.size !== now.size) return false;
  if (recorded.mtimeMs === now.mtimeMs) return true;
  // A touched but unchanged file (copied back, synced) is still the same picture.
  return recorded.sha256 !== undefined && recorded.sha256 === now.sha256;
}

function isManifest(x: unknown): x is ManifestData {
  const m = x as Partial<ManifestData> | null;
  return (
    typeof m === 'object' &&
    m !== null &&
    m.format === MANIFEST_FORMAT &&
    isRecord(m.outputs) &&
    isRecord(m.failures) &&
    isRecord(m.settings)
  );
}

function isRecord(x: unknown): x is Record<string, never> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Size and mtime from one stat, and the content hash when `checksum` is on. */
export async function stampOf(file: string, checksum = false): Promise<InputStamp> {
  const stat = await fs.stat(file);
  if (stat.isDirectory()) {
    throw Object.assign(new Error(`${file} is a folder`), { code: 'EISDIR' });
  }
  const stamp: InputStamp = { size: stat.size, mtimeMs: stat.mtimeMs };
  if (checksum) stamp.sha256 = await sha256File(file);
  return stamp;
}

function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('error', reject)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/** Stable short key of the settings: the same settings always give the same key. */
export function settingsKey(settings: ConvertSettings): string {
  const canonical = Object.keys(settings)
    .sort()
    .map((k) => [k, settings[k as keyof ConvertSettings]] as const)
    .filter(([, v]) => v !== undefined);
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex').slice(0, 16);
}

/**
 * A style's identity for resume: the SHA-256 of its weights index (generator.json), which
 * holds the generator's config, every tensor's name and shape and the SHA-256 of the weights
 * blob. Renaming the style or regenerating its previews does not change it; retraining does.
 */
export async function styleIdOf(styleDir: string): Promise<string> {
  const root = path.resolve(styleDir);
  const index = (await readStyleSummary(root))?.weightsConfig ?? STYLE_FILES.weightsConfig;
  const bytes = await fs.readFile(path.join(root, index));
  return createHash('sha256').update(bytes).digest('hex').slice(0, 16);
}
