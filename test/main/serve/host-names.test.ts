// Which Host headers name the server: the bind name, loopback's when bound there or to every
// interface, the allowed names; always on the server's own port.
import { describe, expect, it } from 'vitest';
import { hostMatcher, hostNameProblem } from '../../../main/serve/host-names';

describe('hostMatcher', () => {
  it('answers only the names it was asked to serve, on its port', () => {
    const lan = hostMatcher('192.168.1.5', ['Studio.LAN'], () => 7860);
    expect(lan('192.168.1.5:7860')).toBe(true);
    expect(lan('studio.lan:7860')).toBe(true);
    expect(lan('localhost:7860')).toBe(false);
    expect(lan('evil.example:7860')).toBe(false);
    expect(lan('studio.lan:80')).toBe(false);
    expect(lan('studio.lan')).toBe(false);
    expect(lan('studio.lan:7860/x')).toBe(false);
    expect(lan(undefined)).toBe(false);
  });

  it('adds the loopback names when bound to loopback or every interface', () => {
    for (const bind of ['127.0.0.1', '0.0.0.0', '::']) {
      const m = hostMatcher(bind, [], () => 80);
      expect([bind, m('localhost'), m('[::1]:80'), m('evil.example')]).toEqual([
        bind,
        true,
        true,
        false,
      ]);
    }
  });
});

describe('hostNameProblem', () => {
  it('accepts names and addresses, refuses schemes, ports and paths', () => {
    for (const ok of ['studio.lan', 'my-box', '10.0.0.2', '::1', '[fe80::1]']) {
      expect([ok, hostNameProblem(ok)]).toEqual([ok, null]);
    }
    for (const bad of ['http://x', 'x.lan:80', 'x/y', '', '-x']) {
      expect(hostNameProblem(bad)).toMatch(/not a host name/);
    }
  });
});
