/**
 * The window's security settings and the rules every web contents follows (Electron's
 * security checklist): sandboxed, isolated, no Node in the page, no navigation away from the
 * app, no new windows, no <webview>. Pure over the objects passed in, so tests check them
 * without Electron.
 */
import type { BrowserWindowConstructorOptions, WebContents } from 'electron';
import { APP_ORIGIN } from '../../shared/ipc-channels';

export function windowPreferences(
  preload: string,
): BrowserWindowConstructorOptions['webPreferences'] {
  return {
    preload,
    sandbox: true,
    contextIsolation: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    spellcheck: false,
  };
}

/** The page's policy: nothing inline, nothing evaluated, nothing from elsewhere. */
export const APP_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Our scheme and host (a custom scheme's URL has origin "null", so compare the parts). */
export function isAppUrl(url: string): boolean {
  try {
    const u = new URL(url);
    const app = new URL(APP_ORIGIN);
    return u.protocol === app.protocol && u.host === app.host;
  } catch {
    return false;
  }
}

type Hardenable = Pick<WebContents, 'on' | 'setWindowOpenHandler'>;

/** Blocks navigation, new windows and webviews; external links are handed to `openExternal`. */
export function hardenContents(contents: Hardenable, openExternal?: (url: string) => void): void {
  contents.on('will-navigate', (event, url) => {
    if (!isAppUrl(url)) event.preventDefault();
  });
  contents.on('will-redirect', (event, url) => {
    if (!isAppUrl(url)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    if (/^https:\/\//.test(url)) openExternal?.(url);
    return { action: 'deny' };
  });
}
