/**
 * Electron's IPC binding with ipcMain, the window and the studio injected: requests from
 * anyone but the app's own page in its own window are refused before the studio sees them;
 * the rest reach Studio.handle, which validates them (test/shared/ipc.test.ts).
 */
import { describe, expect, it, vi } from 'vitest';
import type { StudioEvent } from '../../../shared/ipc';
import { ELECTRON_CHANNELS } from '../../../shared/ipc-channels';
import { bindDropGrants, bindIpc, type IpcStudio, type IpcTarget } from '../../../main/app/ipc';

type Handler = (event: unknown, raw: unknown) => unknown;

function setup() {
  const handlers = new Map<string, Handler>();
  const ipcMain = {
    handle: (ch: string, h: Handler) => void handlers.set(ch, h),
    removeHandler: (ch: string) => void handlers.delete(ch),
  };
  let emit: (e: StudioEvent) => void = () => undefined;
  const studio: IpcStudio = {
    handle: vi.fn(async (raw: unknown) => ({ ok: true as const, value: raw })),
    subscribe: (l) => {
      emit = l;
      return () => (emit = () => undefined);
    },
  };
  const sent: unknown[][] = [];
  const target: IpcTarget = { id: 7, isDestroyed: () => false, send: (...a) => void sent.push(a) };
  const off = bindIpc(ipcMain as never, studio, () => target);
  const call = (event: unknown, raw: unknown) =>
    handlers.get(ELECTRON_CHANNELS.request)!(event, raw);
  const event = (over: Record<string, unknown> = {}) => ({
    sender: { id: 7 },
    senderFrame: { url: 'patchwork://app/', parent: null },
    ...over,
  });
  return { handlers, studio, sent, off, call, event, emit: (e: StudioEvent) => emit(e) };
}

describe('bindIpc', () => {
  it('passes requests from the app page to the studio', async () => {
    const s = setup();
    const raw = { channel: 'app:info', input: {} };
    expect(await s.call(s.event(), raw)).toEqual({ ok: true, value: raw });
    expect(s.studio.handle).toHaveBeenCalledWith(raw);
  });

  it('refuses other windows, subframes and foreign pages', async () => {
    const s = setup();
    const raw = { channel: 'app:info', input: {} };
    const refused = [
      s.event({ sender: { id: 8 } }),
      s.event({ senderFrame: { url: 'patchwork://app/', parent: {} } }),
      s.event({ senderFrame: { url: 'https://example.com/', parent: null } }),
      s.event({ senderFrame: null }),
    ];
    for (const e of refused) {
      expect(await s.call(e, raw)).toMatchObject({ ok: false, error: { code: 'invalid-message' } });
    }
    expect(s.studio.handle).not.toHaveBeenCalled();
  });

  it('sends events to the window and unbinds cleanly', () => {
    const s = setup();
    s.emit({ type: 'styles-changed' });
    expect(s.sent).toEqual([[ELECTRON_CHANNELS.event, { type: 'styles-changed' }]]);
    s.off();
    expect(s.handlers.size).toBe(0);
    s.emit({ type: 'styles-changed' });
    expect(s.sent).toHaveLength(1);
  });
});

describe('bindDropGrants', () => {
  // A drop is the artist's choice: the preload sends the dropped file's path, and main grants
  // it — but only from the app's own page, so no other frame can grant itself a folder.
  type Listener = (event: unknown, dropped: unknown) => void;
  function setupDrops() {
    const listeners = new Map<string, Listener>();
    const ipcMain = {
      on: (ch: string, l: Listener) => void listeners.set(ch, l),
      removeAllListeners: (ch: string) => void listeners.delete(ch),
    };
    const granted: string[] = [];
    const grants = {
      grant: (paths: readonly string[]) => Promise.resolve(void granted.push(...paths)),
    };
    const target: IpcTarget = { id: 7, isDestroyed: () => false, send: () => undefined };
    const off = bindDropGrants(ipcMain as never, grants, () => target);
    const drop = (event: unknown, dropped: unknown) =>
      listeners.get(ELECTRON_CHANNELS.grantDrop)!(event, dropped);
    return { granted, drop, off, listeners };
  }
  const fromPage = (over: Record<string, unknown> = {}) => ({
    sender: { id: 7 },
    senderFrame: { url: 'patchwork://app/', parent: null },
    ...over,
  });

  it('grants a path dropped on the app page, and nothing from elsewhere', () => {
    const s = setupDrops();
    s.drop(fromPage(), '/home/artist/photos');
    s.drop(fromPage({ sender: { id: 8 } }), '/home/artist/.ssh');
    s.drop(fromPage({ senderFrame: { url: 'https://example.com/', parent: null } }), '/etc');
    s.drop(fromPage(), { path: '/etc' });
    expect(s.granted).toEqual(['/home/artist/photos']);
    s.off();
    expect(s.listeners.size).toBe(0);
  });
});
