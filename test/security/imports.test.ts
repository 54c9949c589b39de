/**
 * Hostile checkpoint files (issue 19, item 5 and the pickles that already held): a .pth is a
 * pickle, and a pickle can name any Python callable to run. Every way of naming one — GLOBAL,
 * STACK_GLOBAL, INST, OBJ, NEWOBJ, a REDUCE on something else — is refused before anything
 * could run, with a message naming what was found; and a zip bomb is stopped at the size it
 * declares. Through the checkpoint reader, and through `patchwork import` for one of each.
 */
import { existsSync, rmSync } from 'node:fs';
import zlib from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { writeZip } from '../../main/engine/export/zip-writer';
import { PthError, readPth } from '../../main/engine/import/pth';
import { recognizeGenerator } from '../../main/engine/import/recognize';
import { patchwork } from '../support/cli-in-process';
import { useTempDir } from '../support/temp-dir';
import { pthBytes } from '../main/engine/import/import-fixtures';
import { deflatedZip, zerosStream } from '../main/engine/import/zip-bomb';

const tmp = useTempDir('patchwork-sec-import-');
const MARKER = '/tmp/patchwork-import-pwned';
const MiB = 1 << 20;

afterEach(() => {
  process.exitCode = undefined;
  vi.restoreAllMocks();
});

/** Pickle opcodes, written by hand (the exporter never writes these). */
const b = (...bytes: number[]) => Buffer.from(bytes);
const line = (s: string) => Buffer.from(`${s}\n`, 'latin1');
const unicode = (s: string) => {
  const len = Buffer.alloc(4);
  len.writeUInt32LE(Buffer.byteLength(s));
  return Buffer.concat([b(0x58), len, Buffer.from(s, 'utf8')]); // BINUNICODE
};
const PROTO = b(0x80, 2);
const PROTO4 = b(0x80, 4);
const MARK = b(0x28);
const TUPLE = b(0x74);
const REDUCE = b(0x52);
const STOP = b(0x2e);
const command = unicode(`touch ${MARKER}`);

/** A call of `callable` on the command, in each spelling a pickle has for it. */
const HOSTILE: Record<string, Buffer> = {
  'GLOBAL os.system': Buffer.concat([
    PROTO,
    b(0x63),
    line('os'),
    line('system'),
    MARK,
    command,
    TUPLE,
    REDUCE,
    STOP,
  ]),
  'GLOBAL posix.system': Buffer.concat([
    PROTO,
    b(0x63),
    line('posix'),
    line('system'),
    MARK,
    command,
    TUPLE,
    REDUCE,
    STOP,
  ]),
  'GLOBAL subprocess.Popen': Buffer.concat([
    PROTO,
    b(0x63),
    line('subprocess'),
    line('Popen'),
    MARK,
    command,
    TUPLE,
    REDUCE,
    STOP,
  ]),
  'GLOBAL builtins.exec': Buffer.concat([
    PROTO,
    b(0x63),
    line('builtins'),
    line('exec'),
    MARK,
    unicode('import os'),
    TUPLE,
    REDUCE,
    STOP,
  ]),
  'GLOBAL __builtin__.eval': Buffer.concat([
    PROTO,
    b(0x63),
    line('__builtin__'),
    line('eval'),
    MARK,
    unicode('1'),
    TUPLE,
    REDUCE,
    STOP,
  ]),
  'STACK_GLOBAL os.system': Buffer.concat([
    PROTO4,
    unicode('os'),
    unicode('system'),
    b(0x93),
    MARK,
    command,
    TUPLE,
    REDUCE,
    STOP,
  ]),
  'INST os.system': Buffer.concat([
    PROTO,
    MARK,
    command,
    b(0x69),
    line('os'),
    line('system'),
    STOP,
  ]),
  'OBJ os.system': Buffer.concat([
    PROTO,
    MARK,
    b(0x63),
    line('os'),
    line('system'),
    command,
    b(0x6f),
    STOP,
  ]),
  'NEWOBJ subprocess.Popen': Buffer.concat([
    PROTO,
    b(0x63),
    line('subprocess'),
    line('Popen'),
    MARK,
    command,
    TUPLE,
    b(0x81),
    STOP,
  ]),
  'REDUCE on a string': Buffer.concat([
    PROTO,
    unicode('os.system'),
    MARK,
    command,
    TUPLE,
    REDUCE,
    STOP,
  ]),
  'GLOBAL torch.load': Buffer.concat([
    PROTO,
    b(0x63),
    line('torch'),
    line('load'),
    MARK,
    unicode('x.pth'),
    TUPLE,
    REDUCE,
    STOP,
  ]),
};

/** As torch.save writes it: the pickle inside a zip. */
const zipped = (pkl: Buffer) => writeZip([{ name: 'archive/data.pkl', data: pkl }]);

function refusal(bytes: Buffer): Error {
  try {
    recognizeGenerator(readPth(bytes));
  } catch (err) {
    return err as Error;
  }
  throw new Error('read without an error');
}

describe('hostile pickles are refused, never run', () => {
  for (const [name, pkl] of Object.entries(HOSTILE)) {
    it(`${name}, bare and inside a torch zip`, () => {
      rmSync(MARKER, { force: true });
      for (const bytes of [pkl, zipped(pkl)]) {
        const err = refusal(bytes);
        expect(err.name).toMatch(/^(PthError|UnpickleError)$/);
        expect(err.message).toMatch(/not allowed|unsupported|refused|opcode|state_dict/i);
      }
      expect(existsSync(MARKER)).toBe(false);
    });
  }

  it('the shipped malicious fixtures too', () => {
    for (const name of ['malicious-os-system', 'malicious-eval']) {
      const err = refusal(pthBytes(name));
      expect(err).toBeInstanceOf(PthError);
      expect(err.message).toMatch(/which is not allowed/);
    }
    expect(existsSync(MARKER)).toBe(false);
  });

  it('`patchwork import` exits 1 naming the callable, and writes nothing', async () => {
    const file = tmp.path('latest_net_G.pth');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(file, zipped(HOSTILE['STACK_GLOBAL os.system']));
    const r = await patchwork('import', file, '--name', 'x', '--out', tmp.path('out'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: latest_net_G\.pth: .*os\.system/m);
    expect(existsSync(tmp.path('out'))).toBe(false);
    expect(existsSync(MARKER)).toBe(false);
  });
});

describe('a zip bomb', () => {
  it('is stopped at its declared size, without growing the process', () => {
    const stream = zerosStream(512); // 512 MiB of zeros in about half a MB
    const zip = deflatedZip('archive/data.pkl', stream, MiB, zlib.crc32(Buffer.alloc(MiB)) >>> 0);
    expect(zip.length).toBeLessThan(MiB);
    global.gc?.();
    const rss = process.memoryUsage().rss;
    const err = refusal(zip);
    expect(process.memoryUsage().rss - rss).toBeLessThan(100 * MiB);
    expect(err).toBeInstanceOf(PthError);
    expect(err.message).toMatch(/inflates to more than its declared 1048576 bytes/);
  });

  it('`patchwork import` exits 1 saying so', async () => {
    const file = tmp.path('bomb.pth');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(file, deflatedZip('archive/data.pkl', zerosStream(256), MiB, 0));
    const r = await patchwork('import', file, '--name', 'x', '--out', tmp.path('bomb-out'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bomb\.pth: .*inflates to more than its declared/);
    expect(existsSync(tmp.path('bomb-out'))).toBe(false);
  });
});
