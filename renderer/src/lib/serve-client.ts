/**
 * The bridge to `patchwork serve`: requests as POST /api (the same envelope as Electron's
 * IPC), events from the /events WebSocket, reconnecting after a drop. No cookie carries the
 * token (shared/serve-auth.ts): it is taken from the address the tab was opened with, kept in
 * this tab's sessionStorage and removed from the address bar; requests send it as a header,
 * the WebSocket as a subprotocol, and the images the browser fetches itself carry grants
 * signed with a key derived from it (shared/resource-grants.ts).
 */
import type { PatchworkBridge, Reply, StudioEvent } from '../../../shared/ipc';
import { grantSigner } from '../../../shared/resource-grants';
import { resourceUrl } from '../../../shared/resource-urls';
import { takeToken, wsProtocols, type TokenPage } from '../../../shared/serve-auth';

/** What the client needs of the page it runs in. */
export interface ServePage extends TokenPage {
  location: Location;
}

export function serveBridge(page: ServePage): PatchworkBridge {
  const { location } = page;
  const token = takeToken(page);
  const listeners = new Set<(event: StudioEvent) => void>();
  const base = new URL('./', location.href);
  base.hash = '';
  base.search = '';
  const wsUrl = new URL('events', base);
  wsUrl.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  let retry = 500;
  let opened = false;
  // The server's clock minus this browser's (ms), from each reply's Date header.
  let offset = 0;
  const grant = grantSigner(token, () => offset);

  const connect = () => {
    const ws = new WebSocket(wsUrl, wsProtocols(token));
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
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
        credentials: 'omit',
        body: JSON.stringify(envelope),
      });
      const date = Date.parse(res.headers.get('date') ?? '');
      if (Number.isFinite(date)) offset = date - Date.now();
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
    fileUrl: (path) => resourceUrl(base.href, { route: 'files', path }, grant(path)),
    thumbUrl: (path, size) => resourceUrl(base.href, { route: 'thumbs', path, size }, grant(path)),
  };
}
