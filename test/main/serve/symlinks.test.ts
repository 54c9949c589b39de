/**
 * Links inside an allowed folder must not lead `patchwork serve` out of it (issue 19, item 2):
 * a folder below the allowed root holds a link to an image outside the root and a linked
 * subfolder pointing outside, beside a link that stays inside. Looking into the folder,
 * converting it and fetching its files each leave the outside ones out, saying why, and the
 * inside link keeps working. The real services: the engine in its own process, a tiny
 * untrained style in the library.
 */
import { mkdir, mkdtemp, readdir, realpath, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FolderSummary, Reply, StudioEvent } from '../../../shared/ipc';
import type { JobSnapshot } from '../../../shared/ipc-jobs';
import { initBackend } from '../../../main/engine/backend';
import { serveStudio, type ServedStudio } from '../../../main/serve/index';
import { styleDir } from '../../../main/services/style-library';
import { writeTexturePng } from '../../support/texture-png';
import { saveTinySinCutStyle } from '../../support/tiny-sincut-style';
import { jobEnded } from '../../support/studio';

let served: ServedStudio;
let library: string;
/** The one folder the studio may use. */
let allowed: string;
/** Somewhere else on the same machine: what a link must not reach. */
let outside: string;
let input: string;
const events: StudioEvent[] = [];

const base = () => `http://127.0.0.1:${served.port}`;

async function call<T>(channel: string, body: unknown): Promise<T> {
  const reply = (await served.studio.handle({ channel, input: body })) as Reply<T>;
  if (!reply.ok) throw new Error(`${reply.error.code}: ${reply.error.message}`);
  return reply.value;
}

const fetchFile = (p: string) =>
  fetch(`${base()}/files?path=${encodeURIComponent(p)}`, {
    headers: { Authorization: `Bearer ${served.token}` },
  });

/** The job's snapshot once it has ended, from the events pushed so far. */
const finished = (jobId: string, timeoutMs?: number) => jobEnded(events, jobId, timeoutMs);

beforeAll(async () => {
  library = await mkdtemp(path.join(os.tmpdir(), 'pw-links-lib-'));
  allowed = await mkdtemp(path.join(os.tmpdir(), 'pw-links-allowed-'));
  outside = await mkdtemp(path.join(os.tmpdir(), 'pw-links-outside-'));
  input = path.join(allowed, 'in');
  for (const dir of [input, path.join(allowed, 'elsewhere'), path.join(outside, 'dir')]) {
    await mkdir(dir, { recursive: true });
  }
  await writeTexturePng(path.join(input, 'a.png'), 24, 20, 1);
  await writeTexturePng(path.join(allowed, 'elsewhere', 'inner.png'), 24, 20, 2);
  await writeTexturePng(path.join(outside, 'secret.png'), 24, 20, 3);
  await writeTexturePng(path.join(outside, 'dir', 'deep.png'), 24, 20, 4);
  await symlink(path.join(allowed, 'elsewhere', 'inner.png'), path.join(input, 'inside.png'));
  await symlink(path.join(outside, 'secret.png'), path.join(input, 'out.png'));
  await symlink(path.join(outside, 'dir'), path.join(input, 'sub'));
  await initBackend('wasm');
  await mkdir(path.dirname(styleDir(library, 'tiny')), { recursive: true });
  await saveTinySinCutStyle(styleDir(library, 'tiny'), 'resnet');
  served = await serveStudio({
    libraryDir: library,
    allowedRoots: [allowed],
    rendererDir: null,
    cancelGraceMs: 30_000,
  });
  served.studio.subscribe((e) => events.push(e));
}, 60_000);

afterAll(async () => {
  await served?.close();
  for (const dir of [library, allowed, outside]) await rm(dir, { recursive: true, force: true });
});

describe('links out of the allowed folders', () => {
  it('folder:inspect leaves them out and names each with the reason', async () => {
    const info = await call<FolderSummary>('folder:inspect', { path: input, recursive: true });
    expect(info.images).toBe(2);
    expect(info.samples.map((s) => path.basename(s))).toEqual(['a.png', 'inside.png']);
    const left = info.warnings.filter((w) => w.includes('outside-allowed-folders'));
    expect(left.map((w) => w.split(' ')[0])).toEqual(['out.png', 'sub']);
  });

  it('a conversion skips them, each listed with the reason, and converts the inside link', async () => {
    const output = path.join(allowed, 'converted');
    const { job } = await call<{ job: JobSnapshot }>('convert:start', {
      styleId: 'tiny',
      input,
      output,
      recursive: true,
      format: 'png',
      backend: 'wasm',
    });
    expect((await finished(job.id)).status).toBe('completed');
    const { jobs } = await call<{ jobs: JobSnapshot[] }>('jobs:list', {});
    const files = jobs.find((j) => j.id === job.id)?.convert?.files ?? [];
    const byName = (f: { input: string }) => path.relative(input, f.input);
    const done = files.filter((f) => f.status === 'done').map(byName);
    expect(done.sort()).toEqual(['a.png', 'inside.png']);
    const refused = files.filter((f) => f.skip === 'outside-allowed-folders');
    expect(refused.map((f) => [f.relative, f.status, f.output]).sort()).toEqual([
      ['out.png', 'skipped', ''],
      ['sub', 'skipped', ''],
    ]);
    // Nothing read from outside was written where the page could fetch it.
    expect((await readdir(output)).filter((f) => !f.startsWith('.')).sort()).toEqual([
      'a.png',
      'inside.png',
    ]);
  });

  it('training leaves them out, each reported as a skipped file with the reason', async () => {
    const { job } = await call<{ job: JobSnapshot }>('train:start', {
      name: 'Linked',
      source: input,
      target: input,
      preset: 'fastcut',
      options: { ngf: 4, ndf: 4, nBlocks: 2, loadSize: 36, cropSize: 32, numPatches: 32 },
      iterations: 1,
      recursive: true,
      backend: 'wasm',
      previewEvery: 0,
    });
    expect((await finished(job.id)).status).toBe('completed');
    const { jobs } = await call<{ jobs: JobSnapshot[] }>('jobs:list', {});
    const skipped = jobs.find((j) => j.id === job.id)?.train?.skipped ?? [];
    const refused = skipped.filter((s) => s.reason === 'outside-allowed-folders');
    // Source and target are the same folder: each link is reported for both.
    expect(refused.map((s) => path.relative(input, s.path)).sort()).toEqual([
      'out.png',
      'out.png',
      'sub',
      'sub',
    ]);
  });

  it('/files refuses a linked file and a file in a linked folder, and serves the inside link', async () => {
    expect((await fetchFile(path.join(input, 'out.png'))).status).toBe(404);
    expect((await fetchFile(path.join(input, 'sub', 'deep.png'))).status).toBe(404);
    const inside = await fetchFile(path.join(input, 'inside.png'));
    expect(inside.status).toBe(200);
    expect(inside.headers.get('content-type')).toBe('image/png');
    // What is opened is the checked real file, not the link, which could be re-pointed.
    expect(await served.studio.readableFile(path.join(input, 'inside.png'))).toBe(
      await realpath(path.join(allowed, 'elsewhere', 'inner.png')),
    );
  });
});
