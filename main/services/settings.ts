/**
 * The studio's settings on disk (settings.json: the app's user-data folder, or the library
 * under `patchwork serve`), validated against shared/ipc-settings.ts when read and when
 * changed. A file with a bad field keeps its good ones (the bad one falls back to its default
 * and is reported once); writes go to a temporary file and a rename, so a crash never leaves
 * half a file.
 */
import { settingsFrom, type SettingsPatch, type StudioSettings } from '../../shared/ipc-settings';
import { CoalescedJsonWriter, readJsonFile } from '../files/atomic-file';

export const SETTINGS_FILE = 'settings.json';

/**
 * Puts the thread setting in the environment engine processes inherit (main/engine/backend.ts
 * reads it): the count, and one core kept for the studio when the count is auto.
 */
export function applyThreadSetting(threads: StudioSettings['threads']): void {
  process.env.PATCHWORK_THREADS = String(threads);
  process.env.PATCHWORK_THREADS_SPARE = '1';
}

export class SettingsStore {
  private readonly writer: CoalescedJsonWriter;

  private constructor(
    readonly file: string,
    private current: StudioSettings,
  ) {
    this.writer = new CoalescedJsonWriter(file, () => this.current, {
      indent: 2,
      makeFolder: true,
    });
  }

  /** The stored settings over the defaults; a warning names what was unreadable. */
  static async open(file: string): Promise<{ store: SettingsStore; warning: string | null }> {
    let raw: unknown = null;
    let warning: string | null = null;
    try {
      raw = await readJsonFile(file);
    } catch {
      warning = `the settings in ${file} could not be read; the defaults are used`;
    }
    const { settings, dropped } = settingsFrom(raw);
    if (dropped.length) {
      warning = `settings ${dropped.join(', ')} in ${file} were not valid; their defaults are used`;
    }
    return { store: new SettingsStore(file, settings), warning };
  }

  get(): StudioSettings {
    return { ...this.current };
  }

  /** Applies a validated change and saves it. */
  async update(patch: SettingsPatch): Promise<StudioSettings> {
    this.current = { ...this.current, ...patch };
    await this.writer.save();
    return this.get();
  }
}
