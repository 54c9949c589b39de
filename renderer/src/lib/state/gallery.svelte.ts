/**
 * The results gallery of a conversion (components/Gallery.svelte): its converted files as
 * before/after pairs, one at a time, with next and previous (←/→, Home/End). Opened from a
 * job's or a watched folder's card; the pairs are the card's files that converted, taken
 * when it opens and followed as more arrive.
 */
import type { ConvertFileInfo } from '../../../../shared/ipc-jobs';

export interface GallerySource {
  title: string;
  /** The card's files now (read again as the conversion goes on). */
  files: () => readonly ConvertFileInfo[];
}

export class GalleryState {
  source = $state<GallerySource | null>(null);
  index = $state(0);

  /** The converted files, in the card's order. */
  get pairs(): ConvertFileInfo[] {
    return (this.source?.files() ?? []).filter((f) => f.status === 'done');
  }

  get current(): ConvertFileInfo | null {
    const pairs = this.pairs;
    return pairs[Math.min(this.index, pairs.length - 1)] ?? null;
  }

  get isOpen(): boolean {
    return this.source !== null;
  }

  /** Opens on `at` (a file's input path), or on the first pair. */
  open(source: GallerySource, at?: string): void {
    this.source = source;
    const i = at ? this.pairs.findIndex((f) => f.input === at) : 0;
    this.index = Math.max(0, i);
  }

  close(): void {
    this.source = null;
  }

  step(by: number): void {
    const n = this.pairs.length;
    if (n) this.index = (((this.index + by) % n) + n) % n;
  }

  go(at: 'first' | 'last'): void {
    this.index = at === 'first' ? 0 : Math.max(0, this.pairs.length - 1);
  }
}
