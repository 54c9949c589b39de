/**
 * The window's security settings and the rules every web contents follows (Electron's
 * security checklist): sandboxed, isolated, no Node in the page, no navigation away from the
 * app, no new windows, no <webview>, no web permissions, and only listed pages opened in the
 * browser. Pure over the objects passed in, so tests check them without Electron.
 */
import type { BrowserWindowConstructorOptions, Session, WebContents } from 'electron';
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

/**
 * The pages a link in the studio may open in the browser, exactly. A compromised page could
 * otherwise hand the OS any https URL (a phishing page, a download) with the app's authority.
 */
export const EXTERNAL_URLS: readonly string[] = [
  // The CUT paper (Park et al. 2020), which the styles' help cites.
  'https://arxiv.org/abs/2007.15651',
];

/** Whether `url` is one of EXTERNAL_URLS (compared as parsed, so spelling variants agree). */
export function isExternalAllowed(url: string): boolean {
  let href: string;
  try {
    href = new URL(url).href;
  } catch {
    return false;
  }
  return EXTERNAL_URLS.some((allowed) => new URL(allowed).href === href);
}

type PermissionSession = Pick<
  Session,
  'setPermissionRequestHandler' | 'setPermissionCheckHandler' | 'setDevicePermissionHandler'
>;

/**
 * Refuses every web permission (camera, microphone, notifications, clipboard, geolocation,
 * HID/serial/USB devices…): the studio's page uses none — its notifications come from the
 * main process — so a compromised page gains nothing by asking.
 */
export function denyPermissions(session: PermissionSession): void {
  session.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.setPermissionCheckHandler(() => false);
  session.setDevicePermissionHandler(() => false);
}

type Hardenable = Pick<WebContents, 'on' | 'setWindowOpenHandler'>;

/** Blocks navigation, new windows and webviews; listed external links go to `openExternal`. */
export function hardenContents(contents: Hardenable, openExternal?: (url: string) => void): void {
  contents.on('will-navigate', (event, url) => {
    if (!isAppUrl(url)) event.preventDefault();
  });
  contents.on('will-redirect', (event, url) => {
    if (!isAppUrl(url)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    if (isExternalAllowed(url)) openExternal?.(url);
    return { action: 'deny' };
  });
}
