// `patchwork serve`'s flags that are refused before anything starts: a usage error, exit 2.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../main/cli/index';
import { EXIT } from '../../../main/cli/errors';

let stderr: string[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  stderr = [];
});
function captureStderr(): void {
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => (stderr.push(String(s)), true));
}

describe('patchwork serve', () => {
  it('refuses a --token shorter than 128 bits', async () => {
    captureStderr();
    expect(await main(['serve', '--port', '0', '--token', 'hunter2'])).toBe(EXIT.usage);
    expect(stderr.join('')).toMatch(/--token: the token is too short .* 7 characters/);
  });

  it('refuses an --allow-host that is not a host name', async () => {
    captureStderr();
    const argv = ['serve', '--port', '0', '--allow-host', 'a.lan,http://b.lan:80'];
    expect(await main(argv)).toBe(EXIT.usage);
    expect(stderr.join('')).toMatch(/--allow-host: "http:\/\/b.lan:80" is not a host name/);
  });
});
