/**
 * A fuzzer for `patchwork serve`: seeded random, malformed HTTP requests (methods, request
 * lines, targets, headers, bodies, and JSON shapes against every channel of the contract,
 * built from the field names the channels use) and WebSocket traffic (handshakes with random
 * headers, then random frames: every opcode, reserved bits, bad lengths, oversized, invalid
 * text) sent over raw TCP sockets, so nothing is normalised on the way. It counts what came
 * back: statuses, the 5xx among them (with the request that got each), connections closed
 * without an answer, answers that never came, and whether the server still answers a plain
 * request afterwards. Used by the `serve-fuzz` benchmark (10,000+ requests against the real
 * command) and by a small seeded test in the suite.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { requestSchemas } from '../../shared/ipc';
import { grantExpiry, grantKey, signGrant } from '../../shared/resource-grants';
import { wsProtocols } from '../../shared/serve-auth';

export interface FuzzTarget {
  port: number;
  token: string;
  /** An image the server may show (some requests name it, signed or not). */
  image: string;
  /** A folder the server may use. */
  work: string;
}

export interface FuzzReport {
  requests: number;
  frames: number;
  handshakes: number;
  /** Status → count; 0 for a connection closed without a status line. */
  statuses: Map<number, number>;
  /** Every 5xx but the deliberate ones, with what was sent. */
  serverErrors: { status: number; sent: string; answer: string }[];
  /** 501 (a feature this transport does not have) and 503 (the page not built). */
  deliberate5xx: number;
  /** Connections the server closed without an answer (its HTTP parser on garbage does so). */
  closedWithoutAnswer: number;
  /** The same, by how the request was broken ('well-formed' for none). */
  closedKinds: Map<string, number>;
  /** Requests with no answer and no close within the time limit. */
  noAnswer: { sent: string }[];
  /** Sockets that opened as WebSockets. */
  socketsOpened: number;
  /** Plain health checks that failed (the server stopped answering). */
  healthFailures: number;
}

/** mulberry32: a small seeded generator, so a failing run can be repeated. */
export function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  const chance = (p: number) => next() < p;
  const bytes = (n: number) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = int(256);
    return b;
  };
  return { next, int, pick, chance, bytes };
}
type Rng = ReturnType<typeof rng>;

const CHANNELS = Object.keys(requestSchemas);
/** Field names the channels' inputs use: random objects built from them come close to valid. */
const FIELDS = [
  'path',
  'styleId',
  'jobId',
  'watchId',
  'name',
  'source',
  'target',
  'preset',
  'options',
  'iterations',
  'backend',
  'input',
  'output',
  'format',
  'recursive',
  'refresh',
  'image',
  'x',
  'y',
  'n',
  'tap',
  'opacity',
  'point',
  'queryOn',
  'raw',
  'setting',
  'cachedOnly',
  'remeasure',
  'ngf',
  'ndf',
  'nBlocks',
  'cropSize',
  'loadSize',
  'quality',
  'bitDepth',
  'gpuAdapter',
  'previewEvery',
  'progressEvery',
  'kind',
  'properties',
  'theme',
  '__proto__',
  'constructor',
];
const STRINGS = [
  '',
  '.',
  '..',
  '/',
  '/etc/passwd',
  '../../../../etc/passwd',
  '%2e%2e%2f',
  'C:\\Windows',
  '\u0000',
  '\u202e',
  'ü'.repeat(3),
  'cut',
  'fastcut',
  'sincut',
  'wasm',
  'webgpu',
  'png',
  'jpeg',
  'a'.repeat(300),
  '$(touch /tmp/x)',
  '<script>',
  'sepia-test',
  '0',
  'true',
  'null',
];
const NUMBERS = [0, -1, 1, 2, 3.5, 1e308, -1e308, 2 ** 53, 4096, 1e6, -0, 0.1];

function randomJson(r: Rng, depth: number, fuzz: FuzzTarget): unknown {
  const k = r.int(depth > 3 ? 5 : 8);
  switch (k) {
    case 0:
      return r.pick(NUMBERS);
    case 1:
      return r.chance(0.3)
        ? fuzz.work + r.pick(['', '/', '/x', '/../', '/photo.png'])
        : r.pick(STRINGS);
    case 2:
      return r.chance(0.5);
    case 3:
      return null;
    case 4:
      return r.pick([fuzz.image, fuzz.work, `${fuzz.work}-evil`, '/']);
    case 5:
    case 6: {
      const o: Record<string, unknown> = {};
      for (let i = r.int(5); i > 0; i--) o[r.pick(FIELDS)] = randomJson(r, depth + 1, fuzz);
      return o;
    }
    default:
      return Array.from({ length: r.int(4) }, () => randomJson(r, depth + 1, fuzz));
  }
}

/** An /api body: mostly envelopes of random shapes, sometimes not JSON at all. */
function apiBody(r: Rng, fuzz: FuzzTarget): string {
  const k = r.int(12);
  if (k === 0) return r.bytes(r.int(200)).toString('latin1');
  if (k === 1) return JSON.stringify({ channel: r.pick(CHANNELS), input: {} }).slice(0, r.int(30));
  if (k === 2) return '['.repeat(20_000 + r.int(50_000)) + ']'.repeat(r.int(3));
  if (k === 3)
    return `{"channel":"${r.pick(CHANNELS)}","input":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`;
  if (k === 4) return JSON.stringify(randomJson(r, 0, fuzz));
  if (k === 5) {
    return JSON.stringify({ channel: r.pick(CHANNELS), input: { path: 'x'.repeat(200_000) } });
  }
  const envelope: Record<string, unknown> = {
    channel: r.chance(0.9) ? r.pick(CHANNELS) : r.pick(STRINGS),
    input: r.chance(0.15) ? {} : randomJson(r, 1, fuzz),
  };
  if (r.chance(0.1)) envelope[r.pick(FIELDS)] = 1;
  if (r.chance(0.05)) delete envelope.input;
  return JSON.stringify(envelope);
}

/** A path= value: the image, traversal, junk, broken escapes (already escaped or not). */
function pathParam(r: Rng, fuzz: FuzzTarget): string {
  const k = r.int(8);
  if (k === 0) return encodeURIComponent(fuzz.image);
  if (k === 1) return encodeURIComponent(`${fuzz.work}/${'../'.repeat(r.int(8))}etc/passwd`);
  if (k === 2) return r.pick(['%', '%zz', '%E0%A4%A', '%00', '%C0%AF', '%2e%2e%2f%2e%2e']);
  if (k === 3) return encodeURIComponent(r.pick(STRINGS));
  if (k === 4) return encodeURIComponent(r.bytes(r.int(40)).toString('latin1'));
  if (k === 5) return encodeURIComponent(`${fuzz.work}/${r.bytes(8).toString('hex')}.png`);
  if (k === 6) return 'x'.repeat(r.int(9000));
  return '';
}

function num(r: Rng): string {
  return r.pick([
    '0',
    '1',
    '-1',
    '3',
    '999999',
    '1e3',
    '0x10',
    '1.5',
    '',
    'NaN',
    '99999999999',
    ' 1',
  ]);
}

/** A request target against one of the routes, with random parameters. */
function target(r: Rng, fuzz: FuzzTarget): string {
  const route = r.pick([
    '/api',
    '/files',
    '/thumbs',
    '/tiles',
    '/events',
    '/',
    '/index.html',
    '/assets/x.js',
    '/favicon.ico',
    '//',
    '/..',
    '/%2e%2e/',
    '*',
    'http://evil.example/files',
    '/files/',
    '/FILES',
    '/api/',
    `/${r.bytes(6).toString('hex')}`,
  ]);
  if (route === '*' || route.startsWith('http')) return route;
  const params: string[] = [];
  if (r.chance(0.8)) params.push(`path=${pathParam(r, fuzz)}`);
  if (r.chance(0.4)) params.push(`size=${num(r)}`);
  if (r.chance(0.4)) for (const k of ['level', 'x', 'y']) params.push(`${k}=${num(r)}`);
  if (r.chance(0.3)) params.push(`token=${r.chance(0.5) ? fuzz.token : 'x'}`);
  if (r.chance(0.3)) {
    const g = signGrant(
      grantKey(fuzz.token),
      r.chance(0.5) ? fuzz.image : fuzz.work,
      grantExpiry(Date.now()),
    );
    const sig = r.chance(0.7) ? g.sig : r.bytes(r.int(40)).toString('hex');
    params.push(`exp=${r.chance(0.8) ? g.exp : num(r)}`, `sig=${sig}`);
  }
  if (r.chance(0.1))
    params.push(
      r
        .bytes(r.int(20))
        .toString('latin1')
        .replace(/[\r\n ]/g, '_'),
    );
  return params.length
    ? `${route}?${r.chance(0.5) ? params.join('&') : params.reverse().join('&')}`
    : route;
}

interface Built {
  bytes: Buffer;
  /** A short description for the report. */
  sent: string;
}

/** The ways a request is broken at the HTTP level; a request gets at most one. */
const BREAKS = [
  'method',
  'version',
  'eol',
  'length-off',
  'length-twice',
  'chunked-bad',
  'chunked-cut',
  'long-header',
  'bad-header-name',
  'control-char',
  'raw-target',
  'expect',
  'oversized',
] as const;

/**
 * One HTTP request: mostly well-formed at the HTTP level (so it reaches the routes, with random
 * routes, parameters, headers and bodies), otherwise broken in one way.
 */
export function httpRequest(r: Rng, fuzz: FuzzTarget): Built {
  const host = `127.0.0.1:${fuzz.port}`;
  const broken = r.chance(0.3) ? r.pick(BREAKS) : null;
  let t = target(r, fuzz);
  if (broken === 'raw-target')
    t += r
      .bytes(6)
      .toString('latin1')
      .replace(/[\r\n ]/g, '_');
  else t = t.replace(/[^\x21-\x7e]/g, (c) => encodeURIComponent(c));
  const api = t.startsWith('/api');
  let method = api
    ? r.chance(0.9)
      ? 'POST'
      : r.pick(['GET', 'PUT', 'OPTIONS'])
    : r.chance(0.8)
      ? 'GET'
      : r.pick(['HEAD', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']);
  if (broken === 'method')
    method = r.pick(['G3T', 'get', 'TRACE', 'CONNECT', 'X'.repeat(r.int(300) + 1), '']);
  const headers: [string, string][] = [];
  if (r.chance(0.97))
    headers.push([
      'Host',
      r.chance(0.9)
        ? host
        : r.pick([
            'evil.example',
            `localhost:${fuzz.port}`,
            '[::1]',
            `${host}:1`,
            'localhost:0x10',
            `LOCALHOST:${fuzz.port}`,
          ]),
    ]);
  if (r.chance(0.85))
    headers.push([
      'Authorization',
      r.chance(0.85)
        ? `Bearer ${fuzz.token}`
        : r.pick([
            'Bearer',
            'Bearer x',
            'Basic Zm9vOmJhcg==',
            `bearer ${fuzz.token}`,
            `Bearer ${fuzz.token} `,
            'Bearer '.repeat(1000),
          ]),
    ]);
  if (r.chance(0.1)) headers.push(['Cookie', `patchwork_token=${fuzz.token}`]);
  if (r.chance(0.15))
    headers.push(['Origin', r.pick(['http://evil.example', 'null', `http://${host}`, ''])]);
  let body =
    method === 'GET' || method === 'HEAD'
      ? r.chance(0.05)
        ? 'x'
        : ''
      : api
        ? apiBody(r, fuzz)
        : r.bytes(r.int(300)).toString('latin1');
  if (api || r.chance(0.2))
    headers.push([
      'Content-Type',
      r.chance(0.9)
        ? 'application/json'
        : r.pick([
            'text/plain',
            'application/json; charset=utf-16',
            'multipart/form-data; boundary=x',
            'application/jsonx',
            '',
          ]),
    ]);
  if (broken === 'oversized') body = 'x'.repeat(1024 * 1024 + r.int(4096));
  const length = Buffer.byteLength(body, 'latin1');
  if (broken === 'length-off')
    headers.push(['Content-Length', String(Math.max(0, length + r.int(50) - 25))]);
  else if (broken === 'length-twice')
    headers.push(['Content-Length', '5'], ['Content-Length', '7']);
  else if (broken === 'chunked-bad' || broken === 'chunked-cut' || r.chance(0.1)) {
    headers.push(['Transfer-Encoding', 'chunked']);
    const b = Buffer.from(body, 'latin1');
    const parts: string[] = [];
    for (let i = 0; i < b.length; i += 4096) {
      const chunk = b.subarray(i, i + 4096);
      const size =
        broken === 'chunked-bad' && r.chance(0.5)
          ? r.pick(['zz', '-1', 'ffffffffffff', ''])
          : chunk.length.toString(16);
      parts.push(`${size}\r\n${chunk.toString('latin1')}\r\n`);
    }
    body = parts.join('') + (broken === 'chunked-cut' ? '' : '0\r\n\r\n');
  } else if (length > 0 || r.chance(0.5)) headers.push(['Content-Length', String(length)]);
  if (broken === 'expect') headers.push(['Expect', r.pick(['100-continue', 'nonsense'])]);
  if (broken === 'long-header') headers.push(['X-Long', 'a'.repeat(r.int(40_000))]);
  if (broken === 'bad-header-name') headers.push(['Bad Header', 'x']);
  if (broken === 'control-char') headers.push(['X-Ctl', 'a\u0001b']);
  headers.push(['Connection', r.chance(0.8) ? 'close' : 'keep-alive']);
  const version =
    broken === 'version'
      ? r.pick(['HTTP/1.0', 'HTTP/2.0', 'HTTP/9', 'HTTP/1.1 x', ''])
      : 'HTTP/1.1';
  const eol = broken === 'eol' ? r.pick(['\n', '\r']) : '\r\n';
  const head = `${method} ${t} ${version}${eol}${headers.map(([k, v]) => `${k}: ${v}${eol}`).join('')}${eol}`;
  return {
    bytes: Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(body, 'latin1')]),
    sent: `${broken ?? 'well-formed'}: ${method.slice(0, 12)} ${t.slice(0, 120)} (${headers.map(([k]) => k).join(',')}; body ${body.length} B)`,
  };
}

/**
 * Sends raw bytes and reads the answer's status (null: closed without one). A request that
 * promised more body than it sent gets no answer until the client gives up: after a while
 * the socket is half-closed, as a client that stops sending does. A kept-alive connection is
 * read until it has been quiet for a moment.
 */
export function exchange(
  port: number,
  bytes: Buffer,
  timeoutMs: number,
): Promise<{ status: number | null; answer: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let done = false;
    let quiet: NodeJS.Timeout | undefined;
    const finish = (timedOut: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(giveUp);
      clearTimeout(quiet);
      socket.destroy();
      const answer = Buffer.concat(chunks).toString('latin1');
      // The last status line (a 100 Continue may come first).
      const statuses = [...answer.matchAll(/^HTTP\/1\.[01] (\d{3})/gm)].map((m) => Number(m[1]));
      const status = statuses.filter((s) => s !== 100).at(-1) ?? null;
      resolve({ status, answer: answer.slice(0, 400), timedOut });
    };
    const timer = setTimeout(() => finish(true), timeoutMs);
    const giveUp = setTimeout(() => socket.end(), 2000);
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      clearTimeout(quiet);
      quiet = setTimeout(() => finish(false), 300);
    });
    socket.on('end', () => finish(false));
    socket.on('close', () => finish(false));
    socket.on('error', () => finish(false));
  });
}

/** One client frame (masked, as a client's must be), valid or not. */
function frame(r: Rng): Buffer {
  const opcode = r.pick([0x1, 0x1, 0x2, 0x0, 0x8, 0x9, 0xa, 0x3, 0x7, 0xb, 0xf]);
  const fin = r.chance(0.85) ? 0x80 : 0;
  const rsv = r.chance(0.1) ? r.pick([0x40, 0x20, 0x10]) : 0;
  let payload: Buffer;
  const k = r.int(6);
  if (k === 0) payload = Buffer.from(JSON.stringify({ type: 'resync', x: r.next() }));
  else if (k === 1)
    payload = r.bytes(r.int(200)); // often invalid UTF-8 in a text frame
  else if (k === 2)
    payload = Buffer.alloc(64 * 1024 + r.int(1000), 0x61); // over maxPayload
  else if (k === 3 && opcode === 0x8) {
    payload = Buffer.alloc(2 + r.int(10));
    payload.writeUInt16BE(r.pick([1000, 1005, 1006, 999, 4999, 65535, 1015]));
  } else
    payload = Buffer.from(r.pick(['', 'hello', '{"channel":"app:info","input":{}}', '\u0000']));
  const mask = r.chance(0.95);
  const len = payload.length;
  const lie = r.chance(0.05);
  const header: number[] = [fin | rsv | opcode];
  const m = mask ? 0x80 : 0;
  if (len < 126 && !lie) header.push(m | len);
  else if (len < 65536 && !lie) header.push(m | 126, len >> 8, len & 0xff);
  else {
    header.push(m | 127);
    const big = lie ? BigInt(r.pick([2 ** 53, 2 ** 40, 70_000])) : BigInt(len);
    for (let i = 7; i >= 0; i--) header.push(Number((big >> BigInt(i * 8)) & 0xffn));
  }
  const key = r.bytes(4);
  const body = Buffer.from(payload);
  if (mask) for (let i = 0; i < body.length; i++) body[i] ^= key[i % 4];
  return Buffer.concat([Buffer.from(header), mask ? key : Buffer.alloc(0), body]);
}

/**
 * A WebSocket handshake (with the token mostly, random headers sometimes), then `count`
 * random frames. Resolves with whether it opened; never rejects.
 */
export function socketSession(
  r: Rng,
  fuzz: FuzzTarget,
  count: number,
): Promise<{ opened: boolean; status: number | null }> {
  const headers: string[] = [
    `GET ${r.chance(0.9) ? '/events' : r.pick(['/events?x=%zz', '/api', '//', '/events/'])} HTTP/1.1`,
    `Host: ${r.chance(0.95) ? `127.0.0.1:${fuzz.port}` : 'evil.example'}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${r.chance(0.95) ? randomBytes(16).toString('base64') : 'short'}`,
    `Sec-WebSocket-Version: ${r.chance(0.95) ? '13' : r.pick(['8', '', 'x'])}`,
  ];
  const auth = r.int(4);
  if (auth === 0) headers.push(`Authorization: Bearer ${fuzz.token}`);
  else if (auth === 1)
    headers.push(`Sec-WebSocket-Protocol: ${wsProtocols(fuzz.token).join(', ')}`);
  else if (auth === 2)
    headers.push(
      `Sec-WebSocket-Protocol: patchwork, patchwork.token.${r.bytes(8).toString('hex')}`,
    );
  if (r.chance(0.1))
    headers.push(`Origin: ${r.pick(['http://evil.example', `http://127.0.0.1:${fuzz.port}`])}`);
  return new Promise((resolve) => {
    const socket = net.connect(fuzz.port, '127.0.0.1');
    let got = '';
    let opened = false;
    let status: number | null = null;
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ opened, status });
    };
    const timer = setTimeout(finish, 5000);
    socket.on('connect', () => socket.write(`${headers.join('\r\n')}\r\n\r\n`));
    socket.on('data', (c: Buffer) => {
      if (opened) return; // server frames (events, a close) are not checked
      got += c.toString('latin1');
      if (!got.includes('\r\n\r\n')) return;
      status = Number(/^HTTP\/1\.1 (\d{3})/.exec(got)?.[1] ?? 0) || null;
      if (status !== 101) return finish();
      opened = true;
      for (let i = 0; i < count && !socket.destroyed; i++) socket.write(frame(r));
      setTimeout(finish, 50);
    });
    socket.on('close', finish);
    socket.on('error', finish);
  });
}

/** A plain request the server must always answer 200 (the contract's app:info). */
export async function healthy(fuzz: FuzzTarget): Promise<boolean> {
  const body = JSON.stringify({ channel: 'app:info', input: {} });
  const req = Buffer.from(
    `POST /api HTTP/1.1\r\nHost: 127.0.0.1:${fuzz.port}\r\nAuthorization: Bearer ${fuzz.token}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
  );
  return (await exchange(fuzz.port, req, 10_000)).status === 200;
}

export interface FuzzPlan {
  seed: number;
  requests: number;
  /** WebSocket sessions, each with up to `framesPerSession` frames. */
  sessions: number;
  framesPerSession: number;
  /** Requests in flight at once. */
  concurrency: number;
  /** Called every `every` requests (progress, memory samples). */
  onProgress?: (done: number) => void | Promise<void>;
  every?: number;
}

export async function fuzzServe(fuzz: FuzzTarget, plan: FuzzPlan): Promise<FuzzReport> {
  const r = rng(plan.seed);
  const report: FuzzReport = {
    requests: 0,
    frames: 0,
    handshakes: 0,
    statuses: new Map(),
    serverErrors: [],
    deliberate5xx: 0,
    closedWithoutAnswer: 0,
    closedKinds: new Map(),
    noAnswer: [],
    socketsOpened: 0,
    healthFailures: 0,
  };
  // Built in order from one generator, so a seed always sends the same requests.
  const built = Array.from({ length: plan.requests }, () => httpRequest(r, fuzz));
  let next = 0;
  const worker = async () => {
    while (next < built.length) {
      const i = next++;
      const { bytes, sent } = built[i];
      const res = await exchange(fuzz.port, bytes, 15_000);
      report.requests++;
      const s = res.status ?? 0;
      report.statuses.set(s, (report.statuses.get(s) ?? 0) + 1);
      if (res.timedOut && res.status === null) report.noAnswer.push({ sent });
      else if (res.status === null) {
        report.closedWithoutAnswer++;
        const kind = sent.slice(0, sent.indexOf(':'));
        report.closedKinds.set(kind, (report.closedKinds.get(kind) ?? 0) + 1);
      } else if (s === 501 || s === 503) report.deliberate5xx++;
      else if (s >= 500) report.serverErrors.push({ status: s, sent, answer: res.answer });
      if (plan.every && report.requests % plan.every === 0) {
        if (!(await healthy(fuzz))) report.healthFailures++;
        await plan.onProgress?.(report.requests);
      }
    }
  };
  await Promise.all(Array.from({ length: plan.concurrency }, worker));
  for (let i = 0; i < plan.sessions; i++) {
    const n = 1 + r.int(plan.framesPerSession);
    const s = await socketSession(r, fuzz, n);
    report.handshakes++;
    if (s.opened) {
      report.socketsOpened++;
      report.frames += n;
    } else if (s.status !== null && s.status >= 500) {
      report.serverErrors.push({ status: s.status, sent: 'WebSocket handshake', answer: '' });
    }
  }
  if (!(await healthy(fuzz))) report.healthFailures++;
  return report;
}
