/**
 * The studio's own folder browser (components/FolderBrowser.svelte), for a browser tab where
 * no native dialog exists: which field asked, the folder shown (the services list it within
 * the allowed folders: 'folder:browse'), the entry under the keyboard, and the places the
 * artist used last (kept in this browser's localStorage). One per page: a path field opens
 * it through the Svelte context (BROWSER_CONTEXT) and gets the chosen path back.
 */
import type { PatchworkApi } from '../../../../shared/ipc';
import type { BrowseEntry, BrowseListing } from '../../../../shared/ipc-files';
import { messageOf } from '../errors';

export const BROWSER_CONTEXT = Symbol('folder-browser');

/** What a field takes: a folder or an image file ('path'), or only an image file ('image'). */
export type BrowseFor = 'path' | 'image';

const RECENT_KEY = 'patchwork.recentPlaces';
const MAX_RECENT = 6;

export interface BrowseRequest {
  /** The field's label, for the dialog's title. */
  title: string;
  accept: BrowseFor;
  /** What the field holds now: the browser opens there (or at its folder). */
  start: string;
  choose: (path: string) => void;
}

export class FolderBrowserState {
  request = $state<BrowseRequest | null>(null);
  listing = $state<BrowseListing | null>(null);
  /** The entry the keyboard is on (index into listing.entries), or -1. */
  active = $state(-1);
  loading = $state(false);
  problem = $state<string | null>(null);
  recent = $state<string[]>([]);

  constructor(
    private readonly api: PatchworkApi,
    private readonly storage: Pick<Storage, 'getItem' | 'setItem'> | null = null,
  ) {
    this.recent = readRecent(storage);
  }

  get isOpen(): boolean {
    return this.request !== null;
  }

  /** The entries the field can take as its answer (a folder can always be chosen as such). */
  canChoose(entry: BrowseEntry): boolean {
    if (entry.kind === 'image') return true;
    return this.request?.accept === 'path' && entry.kind === 'file';
  }

  async open(request: BrowseRequest): Promise<void> {
    this.request = request;
    this.problem = null;
    const start = request.start.trim();
    if (start && (await this.go(start))) return;
    await this.go(this.recent[0] ?? null);
  }

  close(): void {
    this.request = null;
    this.listing = null;
    this.active = -1;
  }

  /** Lists a folder (null: only the places); false when the services refused it. */
  async go(path: string | null): Promise<boolean> {
    this.loading = true;
    try {
      const listing = await this.api.request('folder:browse', path === null ? {} : { path });
      this.listing = listing;
      this.problem = null;
      const asked = listing.asked;
      const at = asked ? listing.entries.findIndex((e) => e.path === asked) : -1;
      this.active = at >= 0 ? at : listing.entries.length ? 0 : -1;
      return true;
    } catch (err) {
      this.problem = messageOf(err);
      if (!this.listing) this.listing = null;
      return false;
    } finally {
      this.loading = false;
    }
  }

  up(): Promise<boolean> {
    const parent = this.listing?.parent;
    return parent ? this.go(parent) : Promise.resolve(false);
  }

  /** Opens a folder entry, or chooses a file the field takes. */
  async enter(entry: BrowseEntry): Promise<void> {
    if (entry.kind === 'folder') await this.go(entry.path);
    else if (this.canChoose(entry)) this.choose(entry.path);
  }

  /** Answers the field with `path` (a folder shown, or a file) and closes. */
  choose(path: string): void {
    const request = this.request;
    if (!request) return;
    const folder = this.listing?.path;
    if (folder) this.remember(folder);
    this.close();
    request.choose(path);
  }

  move(by: number): void {
    const n = this.listing?.entries.length ?? 0;
    if (!n) return;
    this.active = Math.max(0, Math.min(n - 1, (this.active < 0 ? 0 : this.active) + by));
  }

  moveTo(at: 'first' | 'last'): void {
    const n = this.listing?.entries.length ?? 0;
    if (n) this.active = at === 'first' ? 0 : n - 1;
  }

  private remember(folder: string): void {
    this.recent = [folder, ...this.recent.filter((p) => p !== folder)].slice(0, MAX_RECENT);
    try {
      this.storage?.setItem(RECENT_KEY, JSON.stringify(this.recent));
    } catch {
      // A full or disabled storage only loses the recent places.
    }
  }
}

function readRecent(storage: Pick<Storage, 'getItem'> | null): string[] {
  try {
    const raw: unknown = JSON.parse(storage?.getItem(RECENT_KEY) ?? '[]');
    return Array.isArray(raw)
      ? raw.filter((p): p is string => typeof p === 'string').slice(0, MAX_RECENT)
      : [];
  } catch {
    return [];
  }
}
