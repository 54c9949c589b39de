/**
 * The studio's contract over Electron's IPC: one handler receives every request envelope,
 * checks that it comes from the app's own page in the app's own window, and hands it to the
 * Studio, which validates it against shared/ipc.ts. Events go back to the window. Electron's
 * objects are injected, so tests drive this with fakes.
 */
import type { IpcMain, IpcMainEvent, IpcMainInvokeEvent } from 'electron';
import type { Reply, StudioEvent } from '../../shared/ipc';
import { ELECTRON_CHANNELS } from '../../shared/ipc-channels';
import { isAppUrl } from './security';

export interface IpcStudio {
  handle(raw: unknown): Promise<Reply<unknown>>;
  subscribe(listener: (event: StudioEvent) => void): () => void;
}

export interface IpcTarget {
  /** The window's web contents: the only sender whose requests are served. */
  id: number;
  isDestroyed(): boolean;
  send(channel: string, ...args: unknown[]): void;
}

export function bindIpc(
  ipcMain: Pick<IpcMain, 'handle' | 'removeHandler'>,
  studio: IpcStudio,
  target: () => IpcTarget | null,
): () => void {
  ipcMain.handle(ELECTRON_CHANNELS.request, (event: IpcMainInvokeEvent, raw: unknown) => {
    const reason = untrustedSender(event, target());
    if (reason) {
      const reply: Reply<never> = {
        ok: false,
        error: { code: 'invalid-message', message: reason },
      };
      return reply;
    }
    return studio.handle(raw);
  });
  const off = studio.subscribe((e) => {
    const t = target();
    if (t && !t.isDestroyed()) t.send(ELECTRON_CHANNELS.event, e);
  });
  return () => {
    off();
    ipcMain.removeHandler(ELECTRON_CHANNELS.request);
  };
}

/**
 * Grants the paths of files the artist drops on the window. Only the preload sends these,
 * with the path Electron gives for a File it handed the page (webUtils.getPathForFile): the
 * page cannot make a File with a path of its choosing, so it cannot grant itself a folder.
 * The grant is in force before the next message is handled, so the request that uses the
 * dropped path is served.
 */
export function bindDropGrants(
  ipcMain: Pick<IpcMain, 'on' | 'removeAllListeners'>,
  grants: { grant(paths: readonly string[]): Promise<void> },
  target: () => IpcTarget | null,
): () => void {
  ipcMain.on(ELECTRON_CHANNELS.grantDrop, (event: IpcMainEvent, dropped: unknown) => {
    if (untrustedSender(event, target()) || typeof dropped !== 'string') return;
    grants.grant([dropped]).catch((err: unknown) => {
      const why = err instanceof Error ? err.message : String(err);
      process.stderr.write(`warning: the dropped ${dropped} could not be remembered: ${why}\n`);
    });
  });
  return () => void ipcMain.removeAllListeners(ELECTRON_CHANNELS.grantDrop);
}

/** Why a sender is not served, or null: it must be our window, showing our page, top frame. */
export function untrustedSender(
  event: Pick<IpcMainInvokeEvent, 'sender' | 'senderFrame'>,
  target: IpcTarget | null,
): string | null {
  if (!target || event.sender.id !== target.id) return 'request from an unknown window';
  const frame = event.senderFrame;
  if (!frame || frame.parent !== null) return 'request from a frame that is not the page';
  if (!isAppUrl(frame.url)) return `request from a page outside the app (${frame.url})`;
  return null;
}
