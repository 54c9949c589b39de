/**
 * What the Styles view does to a style: rename (inline), delete (only after the artist
 * confirms on the card), duplicate, reveal its folder. One action at a time per page; the
 * outcome or the refusal is shown on the card it concerns.
 */
import type { PatchworkApi } from '../../../../shared/ipc';
import { messageOf } from '../errors';
import { panelState } from './panel-state';

export class StyleActions {
  /** The style whose name is being edited, and the draft. */
  renaming = $state<string | null>(null);
  draft = $state('');
  /** The style whose delete button was pressed once and awaits "Delete for good". */
  confirming = $state<string | null>(null);
  busy = $state(false);
  /** The last outcome, on the card of `styleId`. */
  note = $state<{ styleId: string; text: string; error: boolean } | null>(null);
  /** A folder the page cannot open (a browser): its path, offered to copy. */
  folder = $state<{ styleId: string; path: string } | null>(null);

  constructor(
    private readonly api: PatchworkApi,
    private readonly refresh: () => Promise<void>,
  ) {}

  startRename(styleId: string, name: string): void {
    this.confirming = null;
    this.folder = null;
    this.renaming = styleId;
    this.draft = name;
    this.note = null;
  }

  cancel(): void {
    this.renaming = null;
    this.confirming = null;
  }

  async rename(): Promise<void> {
    const styleId = this.renaming;
    if (!styleId) return;
    await this.run(styleId, async () => {
      const { style } = await this.api.request('style:rename', { styleId, name: this.draft });
      this.renaming = null;
      return `Renamed to “${style.name}”.`;
    });
  }

  askDelete(styleId: string): void {
    this.renaming = null;
    this.confirming = styleId;
    this.note = null;
  }

  async confirmDelete(): Promise<void> {
    const styleId = this.confirming;
    if (!styleId) return;
    await this.run(styleId, async () => {
      await this.api.request('style:delete', { styleId, confirm: true });
      this.confirming = null;
      return null;
    });
  }

  async duplicate(styleId: string): Promise<void> {
    await this.run(styleId, async () => {
      const { style } = await this.api.request('style:duplicate', { styleId });
      return `Copied as “${style.name}”.`;
    });
  }

  async reveal(styleId: string): Promise<void> {
    await this.run(styleId, async () => {
      const { path, revealed } = await this.api.request('style:reveal', { styleId });
      this.folder = revealed ? null : { styleId, path };
      return revealed
        ? 'Shown in your file manager.'
        : 'A browser cannot open folders: copy its path into your file manager.';
    });
  }

  private async run(styleId: string, action: () => Promise<string | null>): Promise<void> {
    this.busy = true;
    try {
      const text = await action();
      this.note = text ? { styleId, text, error: false } : null;
      await this.refresh();
    } catch (err) {
      this.note = { styleId, text: messageOf(err), error: true };
    } finally {
      this.busy = false;
    }
  }
}

/** The Styles view's actions, one per studio (they refresh its style list). */
export const styleActionsOf = panelState(
  (studio) => new StyleActions(studio.api, () => studio.refreshStyles()),
);
