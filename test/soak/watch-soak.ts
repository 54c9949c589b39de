/**
 * The watch soak (issue 19, "Prove it"): one watched folder, its output folder inside it, under
 * a burst of work — `files` images arriving at once, some written slowly over seconds, and
 * while they convert, files renamed, replaced (atomically and in place) and deleted, many of
 * them at the very moment their conversion starts. Then every file left in the folder must
 * have been converted exactly once in its final state, nothing converted half-written, and
 * each output must equal a conversion of its final input.
 *
 * The watcher (jobs/convert/watcher.ts) runs in this process with the real engine, wrapped so
 * that each conversion is tied to the exact bytes it read: the wrapper reads the file, and
 * the engine decodes a private copy of those bytes. A conversion of bytes the soak never wrote
 * as a whole file is a half-written conversion. The writes run in another process
 * (slow-writer.ts), so a busy watcher cannot stall them half-way; the longest pause the writer
 * actually made is printed, since a pause past `--stable-ms` would make a half-written file
 * look finished by the watcher's own rule.
 *
 *   npm run bench -- watch-soak [--files N] [--seed S] [--keep]
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '../../main/engine/backend';
import type { DecodedInput } from '../../main/engine/infer/convert-image';
import { openConversion } from '../../main/jobs/convert/convert-job';
import { FolderWatcher, type WatchEvent } from '../../main/jobs/convert/watcher';
import { header, loadLine, machineLines, table } from '../bench/machine';
import { saveTinyCutStyle } from '../support/tiny-cut-style';
import {
  decodePixels,
  encodeImage,
  isLeftoverTemporary,
  listFiles,
  REPO,
  section,
  sleep,
  SoakRandom,
} from './soak-kit';
import type { SlowWrite } from './slow-writer';

export interface WatchSoakOptions {
  files: number;
  seed: number;
  keep?: boolean;
}

const STABLE_MS = 1500;
const SLOW_FILES = 30;
const SLOW_PAUSE_MS = 250;
/** Actions on files while they convert (or wait), of each kind. */
const ACTIONS_EACH = 25;

type Action = 'rename' | 'replace-atomic' | 'replace-in-place' | 'delete';
const ACTIONS: Action[] = ['rename', 'replace-atomic', 'replace-in-place', 'delete'];

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex').slice(0, 24);

interface Conversion {
  input: string;
  hash: string;
  output: string;
}

export async function runWatchSoak({
  files,
  seed,
  keep = false,
}: WatchSoakOptions): Promise<boolean> {
  const rnd = new SoakRandom(seed);
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'patchwork-watch-soak-'));
  const input = path.join(root, 'inbox');
  const output = path.join(input, 'converted');
  const staging = path.join(root, 'staging');
  const snapshots = path.join(root, 'snapshots');
  await Promise.all([input, staging, snapshots].map((d) => fs.mkdir(d, { recursive: true })));
  const started = Date.now();
  console.log(
    header('watch soak: a burst of arrivals, slow writes, renames, replacements, deletions', [
      ...machineLines(),
      ['seed', String(seed)],
      [
        'files',
        `${files} arriving at once (${SLOW_FILES} of them written in 12 chunks, ${SLOW_PAUSE_MS} ms apart)`,
      ],
      ['actions', `${ACTIONS_EACH} each of ${ACTIONS.join(', ')}, half as a conversion starts`],
      ['watcher', `in this process, --stable-ms ${STABLE_MS}, output folder inside the input`],
      ['folder', root],
    ]),
  );

  // ─── the style, the engine and what it converted ─────────────────────────────────────
  await initBackend('wasm');
  const style = path.join(root, 'style');
  await saveTinyCutStyle(style, { ngf: 2, nBlocks: 1, seed: 5 });
  const opened = await openConversion({
    styleDir: style,
    input,
    output,
    recursive: false,
    format: 'same',
    backend: 'wasm',
  });
  /** Every byte string the soak wrote as a whole file. */
  const complete = new Set<string>();
  const conversions: Conversion[] = [];
  const decodedHash = new WeakMap<object, string>();
  let snapshotId = 0;
  let onDecodeStart: (file: string) => void = () => undefined;
  const engine = {
    async decode(file: string): Promise<DecodedInput> {
      onDecodeStart(file);
      const bytes = await fs.readFile(file);
      const copy = path.join(snapshots, `${snapshotId++}${path.extname(file)}`);
      await fs.writeFile(copy, bytes);
      try {
        const decoded = await opened.engine.decode(copy);
        decodedHash.set(decoded, sha(bytes));
        return decoded;
      } finally {
        await fs.rm(copy, { force: true });
      }
    },
    async translate(decoded: DecodedInput): Promise<DecodedInput> {
      const t = await opened.engine.translate(decoded);
      decodedHash.set(t, decodedHash.get(decoded) ?? '?');
      return t;
    },
    async encode(
      t: DecodedInput,
      out: string,
      file: string,
      hooks?: { beforeRename?: (temp: string) => Promise<void> },
    ) {
      const r = await opened.engine.encode(t, out, file, hooks);
      conversions.push({ input: file, hash: decodedHash.get(t) ?? '?', output: out });
      return r;
    },
  };
  const events = {
    failed: 0,
    removed: 0,
    warnings: [] as string[],
    failures: new Map<string, number>(),
  };
  const watcher = await FolderWatcher.start({
    input,
    output,
    engine,
    styleId: opened.styleId,
    settings: opened.settings,
    stableMs: STABLE_MS,
    onEvent: (e: WatchEvent) => {
      if (e.type === 'removed') events.removed += 1;
      if (e.type === 'warning') events.warnings.push(e.message);
      if (e.type === 'file' && e.file.status === 'failed') {
        events.failed += 1;
        const reason = e.file.failure?.reason ?? '?';
        events.failures.set(reason, (events.failures.get(reason) ?? 0) + 1);
      }
    },
  });
  await watcher.ready;

  // ─── the burst ───────────────────────────────────────────────────────────────────────
  const pool: Buffer[] = [];
  for (let i = 0; i < 60; i++) {
    const format = i % 2 ? 'png' : 'jpg';
    pool.push(await encodeImage(format, 24 + rnd.int(40), 24 + rnd.int(40), seed * 1000 + i));
  }
  const ext = (b: Buffer) => (b[0] === 0x89 ? 'png' : 'jpg');
  const writes: SlowWrite[] = [];
  const names: string[] = [];
  for (let i = 0; i < files; i++) {
    const bytes = pool[rnd.int(pool.length)];
    const name = `f${String(i).padStart(4, '0')}.${ext(bytes)}`;
    const from = path.join(staging, name);
    await fs.writeFile(from, bytes);
    complete.add(sha(bytes));
    names.push(name);
    const slow = i < SLOW_FILES;
    writes.push({
      from,
      to: path.join(input, name),
      startMs: slow ? rnd.int(1000) : 0,
      chunks: slow ? 12 : 1,
      pauseMs: SLOW_PAUSE_MS,
    });
  }
  const plan = path.join(root, 'writes.json');
  await fs.writeFile(plan, JSON.stringify(writes));
  const writer = spawn(process.execPath, ['--import', 'tsx', 'test/soak/slow-writer.ts', plan], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let writerOut = '';
  writer.stdout.on('data', (d: Buffer) => (writerOut += d.toString()));
  const writerDone = new Promise<void>((resolve) => writer.on('close', () => resolve()));

  // ─── renames, replacements and deletions ─────────────────────────────────────────────
  const done = { rename: 0, 'replace-atomic': 0, 'replace-in-place': 0, delete: 0 };
  const touched = new Set<string>();
  /** What was done to each file, for the details of a failure. */
  const actedOn = new Map<string, Action>();
  let version = 0;
  const act = async (file: string): Promise<void> => {
    const name = path.basename(file);
    const open = ACTIONS.filter((a) => done[a] < ACTIONS_EACH);
    if (!open.length || touched.has(name) || name.startsWith('r-')) return;
    touched.add(name);
    const action = open[rnd.int(open.length)];
    done[action] += 1;
    actedOn.set(name, action);
    if (action === 'rename') {
      await fs.rename(file, path.join(input, `r-${name}`)).catch(() => (done[action] -= 1));
    } else if (action === 'delete') {
      await fs.rm(file).catch(() => (done[action] -= 1));
    } else {
      // New contents of the same format (the name keeps its extension).
      const bytes = await encodeImage(
        path.extname(name) === '.png' ? 'png' : 'jpg',
        24 + rnd.int(40),
        24 + rnd.int(40),
        seed * 7000 + version++,
      );
      complete.add(sha(bytes));
      if (action === 'replace-atomic') {
        const temp = path.join(staging, `v${version}-${name}`);
        await fs.writeFile(temp, bytes);
        await fs.rename(temp, file);
      } else {
        await fs.writeFile(file, bytes);
      }
    }
  };
  // Half of the actions as a conversion starts, the other half on files picked at random.
  onDecodeStart = (file) => {
    if (rnd.chance(0.15)) void act(file);
  };
  const randomActs = (async () => {
    for (let i = 0; i < ACTIONS_EACH * 2; i++) {
      await sleep(rnd.uniform(20, 200));
      const name = names[rnd.int(names.length)];
      await act(path.join(input, name)).catch(() => undefined);
    }
  })();
  await writerDone;
  await randomActs;
  const writerReport = JSON.parse(writerOut.trim() || '{}') as {
    written?: number;
    maxGapMs?: number;
  };

  // ─── until every file in the folder is converted, then stop ──────────────────────────
  const deadline = Date.now() + 20 * 60_000;
  const finalFiles = async () =>
    (await fs.readdir(input, { withFileTypes: true })).filter((d) => d.isFile()).map((d) => d.name);
  for (;;) {
    await sleep(STABLE_MS * 2);
    await watcher.queue.whenIdle();
    const want = await finalFiles();
    const hashes = new Map<string, string>();
    for (const n of want)
      hashes.set(path.join(input, n), sha(await fs.readFile(path.join(input, n))));
    const converted = new Set(conversions.map((c) => `${c.input}:${c.hash}`));
    const missing = [...hashes].filter(([p, h]) => !converted.has(`${p}:${h}`));
    if (!missing.length || Date.now() > deadline) break;
    console.error(`waiting for ${missing.length} files…`);
  }
  await sleep(STABLE_MS * 2);
  await watcher.stop();
  opened.dispose();

  // ─── the checks ──────────────────────────────────────────────────────────────────────
  const finals = await finalFiles();
  let exactlyOnce = 0;
  let neverConverted = 0;
  let convertedTwice = 0;
  let differsFromReference = 0;
  let unreadableOutputs = 0;
  const details: string[] = [];
  const reference = path.join(root, 'reference');
  await fs.mkdir(reference);
  const { engine: plain, dispose } = await openConversion({
    styleDir: style,
    input,
    output: reference,
    recursive: false,
    format: 'same',
    backend: 'wasm',
  });
  try {
    for (const name of finals) {
      const file = path.join(input, name);
      const hash = sha(await fs.readFile(file));
      const mine = conversions.filter((c) => c.input === file && c.hash === hash);
      if (mine.length === 0) neverConverted += 1;
      else if (mine.length === 1) exactlyOnce += 1;
      else convertedTwice += 1;
      if (mine.length !== 1) {
        const all = conversions.filter((c) => c.input === file).map((c) => c.hash.slice(0, 6));
        details.push(
          `${name} (${actedOn.get(name) ?? 'untouched'}): final ${hash.slice(0, 6)}, ` +
            `conversions [${all.join(', ')}]`,
        );
      }
      if (!mine.length) continue;
      const ref = path.join(reference, name);
      await plain.encode(await plain.translate(await plain.decode(file)), ref, file);
      const [a, b] = await Promise.all([decodePixels(mine.at(-1)!.output), decodePixels(ref)]);
      if (!a) unreadableOutputs += 1;
      else if (!b || !a.equals(b)) differsFromReference += 1;
    }
  } finally {
    dispose();
  }
  const halfWritten = conversions.filter((c) => !complete.has(c.hash)).length;
  const ownOutputs = conversions.filter((c) => c.input.startsWith(output + path.sep)).length;
  const leftovers = (await listFiles(output)).filter(isLeftoverTemporary).length;

  console.log(section('what happened'));
  console.log(
    table(
      ['', 'count'],
      [
        ['files written', String(writerReport.written ?? '?')],
        ['longest pause of the slow writer (ms)', (writerReport.maxGapMs ?? NaN).toFixed(0)],
        ['renamed', String(done.rename)],
        ['replaced atomically', String(done['replace-atomic'])],
        ['replaced in place', String(done['replace-in-place'])],
        ['deleted', String(done.delete)],
        ['files in the folder at the end', String(finals.length)],
        ['conversions', String(conversions.length)],
        ['failures reported (partial or vanished files)', String(events.failed)],
        ['removals reported', String(events.removed)],
        ['warnings', String(events.warnings.length)],
      ],
    ),
  );
  if (events.failures.size) {
    console.log(`failure reasons: ${[...events.failures].map(([r, n]) => `${r} ${n}`).join(', ')}`);
  }
  for (const w of events.warnings.slice(0, 5)) console.log(`warning: ${w}`);
  const counts: [string, number][] = [
    ['final files never converted', neverConverted],
    ['final files converted more than once', convertedTwice],
    ['conversions of half-written files', halfWritten],
    ['conversions of the watcher’s own outputs', ownOutputs],
    ['outputs that do not decode', unreadableOutputs],
    ['outputs unlike a conversion of the final input', differsFromReference],
    ['temporaries left in the output folder', leftovers],
  ];
  console.log(section('counts (all must be 0)'));
  console.log(
    table(
      ['count', 'value'],
      counts.map(([k, v]) => [k, String(v)]),
    ),
  );
  for (const d of details) console.log(d);
  const ok = counts.every(([, v]) => v === 0) && exactlyOnce === finals.length;
  console.log(
    `\n${exactlyOnce} of ${finals.length} final files converted exactly once, in ` +
      `${((Date.now() - started) / 1000).toFixed(0)} s; load now ${loadLine()}`,
  );
  console.log(ok ? 'RESULT: pass (every count 0)' : 'RESULT: FAIL');
  if (!keep) await fs.rm(root, { recursive: true, force: true });
  return ok;
}
