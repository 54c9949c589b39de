/**
 * The inbox's line in Settings: what the library's inbox holds (images dropped on a browser
 * tab, and what was converted from them there), and "Empty inbox" — only after the artist
 * confirms, refused by the services while a job, a watched folder or an upload uses it.
 * Uploaded images that were converted go by themselves after `keepDays`; results never do.
 */
import type { PatchworkApi } from '../../../../shared/ipc';
import type { InboxUsage } from '../../../../shared/ipc-files';
import { formatBytes } from '../bytes';
import { messageOf } from '../errors';
import { panelState } from './panel-state';

export class InboxPanel {
  usage = $state<InboxUsage | null>(null);
  loading = $state(false);
  /** "Empty inbox…" was pressed once: the confirmation is shown. */
  confirming = $state(false);
  busy = $state(false);
  /** The last outcome or refusal, in words. */
  note = $state<{ text: string; error: boolean } | null>(null);

  constructor(private readonly api: PatchworkApi) {}

  /** Asks what the inbox holds now. */
  async load(): Promise<void> {
    this.loading = true;
    try {
      this.usage = await this.api.request('inbox:usage', {});
    } catch (err) {
      this.note = { text: `Could not look at the inbox: ${messageOf(err)}`, error: true };
    } finally {
      this.loading = false;
    }
  }

  askEmpty(): void {
    this.note = null;
    this.confirming = true;
  }

  cancel(): void {
    this.confirming = false;
  }

  async empty(): Promise<void> {
    this.busy = true;
    try {
      const { removed, usage } = await this.api.request('inbox:empty', { confirm: true });
      this.usage = usage;
      this.note = {
        text: `Emptied: ${removed.files} file${removed.files === 1 ? '' : 's'}, ${formatBytes(removed.bytes)}.`,
        error: false,
      };
    } catch (err) {
      this.note = { text: messageOf(err), error: true };
      await this.load();
    } finally {
      this.busy = false;
      this.confirming = false;
    }
  }
}

export const inboxPanelOf = panelState((studio) => new InboxPanel(studio.api));
