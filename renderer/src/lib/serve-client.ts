/**
 * The bridge to `patchwork serve`: requests as POST /api (the same envelope as Electron's
 * IPC), events from the /events WebSocket, reconnecting after a drop. The token travels in
 * the cookie the server set on the first visit.
 */
import type { PatchworkBridge, Reply, StudioEvent } from '../../../shared/ipc';
import { resourceUrl } from '../../../shared/resource-urls';

export function serveBridge(location: Location): PatchworkBridge {
  const listeners = new Set<(event: StudioEvent) => void>();
  const base = new URL('./', location.href);
  const wsUrl = new URL('events', base);
  wsUrl.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  let retry = 500;
  let opened = false;

  const connect = () => {
    const ws = new WebSocket(wsUrl);
    ws.onopen = () => {
      retry = 500;
      // Events may have been missed while disconnected: the page reloads its lists.
      if (opened) for (const l of listeners) l({ type: 'resync' });
      opened = true;
    };
    ws.onmessage = (m) => {
      const event = JSON.parse(String(m.data)) as StudioEvent;
      for (const l of listeners) l(event);
    };
    ws.onclose = () => {
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10_000);
    };
  };
  connect();

  return {
    async invoke(envelope) {
      const res = await fetch(new URL('api', base), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        credentials: 'same-origin',
        body: JSON.stringify(envelope),
      });
      const text = await res.text();
      if (!text.startsWith('{')) {
        return { ok: false, error: { code: 'internal', message: text || res.statusText } };
      }
      return JSON.parse(text) as Reply<unknown>;
    },
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    fileUrl: (path) => resourceUrl(base.href, { route: 'files', path }),
    thumbUrl: (path, size) => resourceUrl(base.href, { route: 'thumbs', path, size }),
  };
}
