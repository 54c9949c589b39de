/**
 * A seeded slice of the serve fuzz (serve-fuzz.ts; the full run is `npm run bench --
 * serve-fuzz`): a few hundred malformed requests and WebSocket sessions against a real
 * server. None may get a 5xx other than the deliberate ones, none may go unanswered, and the
 * server must still answer afterwards. The seed is fixed, so a failure repeats.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuzzServe } from './serve-fuzz';
import { openSite, type Site } from './serve-attacks';

let site: Site;

beforeAll(async () => {
  site = await openSite();
});
afterAll(async () => {
  await site?.close();
});

describe('serve under random malformed traffic', () => {
  it('answers every request without a server error and stays up', async () => {
    const report = await fuzzServe(
      { port: site.served.port, token: site.served.token, image: site.image, work: site.work },
      { seed: 19, requests: 300, sessions: 40, framesPerSession: 8, concurrency: 4, every: 100 },
    );
    expect(report.requests).toBe(300);
    expect(report.serverErrors).toEqual([]);
    expect(report.noAnswer).toEqual([]);
    expect(report.healthFailures).toBe(0);
    // The slice reaches the routes, not only the parser's refusals.
    for (const status of [200, 400, 401, 403, 404]) {
      expect([status, report.statuses.get(status) ?? 0]).not.toEqual([status, 0]);
    }
    expect(report.socketsOpened).toBeGreaterThan(5);
  });
});
