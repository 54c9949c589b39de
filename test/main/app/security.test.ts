/**
 * The desktop window's security, without Electron: the preferences every window gets and
 * the navigation rules every web contents gets (the e2e test checks their effect where
 * Electron's binary exists).
 */
import { describe, expect, it } from 'vitest';
import { APP_CSP, hardenContents, isAppUrl, windowPreferences } from '../../../main/app/security';

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
