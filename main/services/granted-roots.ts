/**
 * The folders and files the artist has granted the desktop app (issue 19, item 4): each path
 * picked in a native dialog or dropped on the window. The page may name only these (plus the
 * library and the samples), so a compromised page cannot reach ~/.ssh. Grants are kept in
 * grants.json beside settings.json in the app's user-data folder — outside every folder the
 * page may write to, so the page cannot grant itself more — and read again at the next start.
 */
import path from 'node:path';
import { CoalescedJsonWriter, readJsonFile } from '../files/atomic-file';
import { isBelow, type RootSource } from './path-policy';

export const GRANTS_FILE = 'grants.json';

export class GrantedRoots implements RootSource {
  private readonly writer: CoalescedJsonWriter;

  private constructor(
    readonly file: string,
    private paths: string[],
  ) {
    this.writer = new CoalescedJsonWriter(file, () => ({ paths: this.paths }), {
      indent: 2,
      makeFolder: true,
    });
  }

  /** The grants saved in `file` (none when it does not exist); a warning says what was unread. */
  static async open(file: string): Promise<{ grants: GrantedRoots; warning: string | null }> {
    let raw: unknown = null;
    try {
      raw = await readJsonFile(file);
    } catch {
      const warning = `the granted folders in ${file} could not be read; pick them again`;
      return { grants: new GrantedRoots(file, []), warning };
    }
    const listed =
      raw !== null && typeof raw === 'object' && 'paths' in raw && Array.isArray(raw.paths)
        ? (raw.paths as unknown[])
        : null;
    // Only full paths count: a relative one would depend on where the app was started.
    const paths = (listed ?? []).filter(
      (p): p is string => typeof p === 'string' && path.isAbsolute(p),
    );
    const warning =
      raw !== null && (listed === null || paths.length !== listed.length)
        ? `some granted folders in ${file} were not full paths; pick or drop them again`
        : null;
    return {
      grants: new GrantedRoots(
        file,
        paths.map((p) => path.resolve(p)),
      ),
      warning,
    };
  }

  list(): readonly string[] {
    return this.paths;
  }

  /**
   * Grants full paths (relative ones are ignored: nothing the user chose looks like that) and
   * saves them. The grant holds from this call on, before the save ends, so a request that
   * follows a drop's grant is already served.
   */
  grant(paths: readonly string[]): Promise<void> {
    let changed = false;
    for (const p of paths) {
      if (!path.isAbsolute(p)) continue;
      const abs = path.resolve(p);
      // A path inside one already granted adds nothing; one above them takes their place.
      if (this.paths.some((g) => g === abs || isBelow(abs, g))) continue;
      this.paths = [...this.paths.filter((g) => !isBelow(g, abs)), abs];
      changed = true;
    }
    return changed ? this.writer.save() : Promise.resolve();
  }
}
