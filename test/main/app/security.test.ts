/**
 * The desktop window's security, without Electron: the preferences every window gets and
 * the navigation rules every web contents gets (the e2e test checks their effect where
 * Electron's binary exists).
 */
import { describe, expect, it } from 'vitest';
import {
  APP_CSP,
  denyPermissions,
  hardenContents,
  isAppUrl,
  isExternalAllowed,
  windowPreferences,
} from '../../../main/app/security';

describe('window preferences', () => {
  it('sandboxes and isolates the page, with no Node anywhere', () => {
    expect(windowPreferences('/app/preload.cjs')).toMatchObject({
      preload: '/app/preload.cjs',
      sandbox: true,
      contextIsolation: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
    });
  });

  it('allows nothing inline or evaluated in the CSP', () => {
    expect(APP_CSP).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(APP_CSP).toMatch(/script-src 'self'/);
    expect(APP_CSP).toMatch(/object-src 'none'/);
  });
});

describe('web contents rules', () => {
  type Handler = (event: { preventDefault(): void }, url: string) => void;
  function fakeContents() {
    const handlers = new Map<string, Handler>();
    let openHandler: ((d: { url: string }) => { action: string }) | null = null;
    const contents = {
      on: (name: string, h: Handler) => void handlers.set(name, h),
      setWindowOpenHandler: (h: (d: { url: string }) => { action: string }) =>
        void (openHandler = h),
    };
    const fire = (name: string, url = '') => {
      let prevented = false;
      handlers.get(name)?.({ preventDefault: () => (prevented = true) }, url);
      return prevented;
    };
    return { contents, fire, open: (url: string) => openHandler!({ url }) };
  }

  it('keeps navigation inside the app and refuses new windows and webviews', () => {
    const opened: string[] = [];
    const f = fakeContents();
    hardenContents(f.contents as never, (url) => opened.push(url));
    expect(f.fire('will-navigate', 'https://example.com/')).toBe(true);
    expect(f.fire('will-navigate', 'file:///etc/passwd')).toBe(true);
    expect(f.fire('will-navigate', 'patchwork://app/index.html')).toBe(false);
    expect(f.fire('will-redirect', 'http://127.0.0.1:1/')).toBe(true);
    expect(f.fire('will-attach-webview')).toBe(true);
    expect(f.open('https://arxiv.org/abs/2007.15651')).toEqual({ action: 'deny' });
    expect(f.open('file:///etc/passwd')).toEqual({ action: 'deny' });
    expect(opened).toEqual(['https://arxiv.org/abs/2007.15651']);
  });

  it('recognises only the app origin', () => {
    expect(isAppUrl('patchwork://app/')).toBe(true);
    expect(isAppUrl('patchwork://other/')).toBe(false);
    expect(isAppUrl('patchwork://app.evil/')).toBe(false);
    expect(isAppUrl('not a url')).toBe(false);
  });
});

describe('external links', () => {
  it('opens only the listed pages, not any https URL', () => {
    const opened: string[] = [];
    let handler: (d: { url: string }) => { action: string } = () => ({ action: 'unset' });
    const contents = {
      on: () => undefined,
      setWindowOpenHandler: (h: typeof handler) => void (handler = h),
    };
    hardenContents(contents as never, (url) => opened.push(url));
    for (const url of [
      'https://evil.example/phish',
      'https://arxiv.org/abs/2007.15651.evil.example/',
      'https://arxiv.org@evil.example/abs/2007.15651',
      'https://arxiv.org/abs/0000.00000',
    ]) {
      expect(handler({ url })).toEqual({ action: 'deny' });
    }
    expect(opened).toEqual([]);
    expect(isExternalAllowed('https://arxiv.org/abs/2007.15651')).toBe(true);
    expect(isExternalAllowed('https://ARXIV.org/abs/2007.15651')).toBe(true);
    expect(isExternalAllowed('not a url')).toBe(false);
  });
});

describe('web permissions', () => {
  // The page uses none, so every request and check is refused: a compromised page must not
  // reach the camera, the microphone, the clipboard or a USB device.
  it('refuses every permission request, check and device', () => {
    let request: ((c: unknown, p: string, cb: (ok: boolean) => void) => void) | null = null;
    let check: ((c: unknown, p: string) => boolean) | null = null;
    let device: ((d: unknown) => boolean) | null = null;
    denyPermissions({
      setPermissionRequestHandler: (h: typeof request) => void (request = h),
      setPermissionCheckHandler: (h: typeof check) => void (check = h),
      setDevicePermissionHandler: (h: typeof device) => void (device = h),
    } as never);
    for (const p of ['media', 'notifications', 'clipboard-read', 'geolocation', 'fullscreen']) {
      const answers: boolean[] = [];
      request!(null, p, (ok) => answers.push(ok));
      expect(answers).toEqual([false]);
      expect(check!(null, p)).toBe(false);
    }
    expect(device!({ deviceType: 'usb' })).toBe(false);
  });
});
