// The reader's promises about hostile and broken files: a pickle that names an arbitrary
// callable is refused before anything could run, and every way a file can be wrong (cut
// short, bit-flipped, the wrong network, the wrong shapes) gets a message that says what
// was found rather than a crash or a silently wrong style.
import { existsSync, rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { stateDictPickle } from '../../../../main/engine/export/state-dict-pickle';
import { writeZip } from '../../../../main/engine/export/zip-writer';
import { halfToFloat, PthError, readPth, TorchTensor } from '../../../../main/engine/import/pth';
import { recognizeGenerator } from '../../../../main/engine/import/recognize';
import { unpickle, UnpickleError } from '../../../../main/engine/import/unpickle';
import { pthBytes } from './import-fixtures';

const MARKER = '/tmp/patchwork-import-pwned';

function read(bytes: Uint8Array) {
  return () => recognizeGenerator(readPth(bytes));
}

/** A torch.save-style zip of the given tensors (torch layouts), values all 0.5. */
function stateDictZip(tensors: { name: string; shape: number[] }[]): Buffer {
  const records = [
    {
      name: 'sd/data.pkl',
      data: stateDictPickle(tensors.map((t, i) => ({ ...t, key: String(i) }))),
    },
    ...tensors.map((t, i) => {
      const n = t.shape.reduce((a, b) => a * b, 1);
      return { name: `sd/data/${i}`, data: Buffer.from(new Float32Array(n).fill(0.5).buffer) };
    }),
  ];
  return writeZip(records);
}

/**
 * A torch.save-style zip like stateDictZip's, but each tensor's stride is given (BININT, so
 * negative values can be written, which the exporter's pickle never does).
 */
function stridedZip(tensors: { name: string; shape: number[]; stride: number[] }[]): Buffer {
  const parts: Buffer[] = [];
  const op = (...b: number[]) => parts.push(Buffer.from(b));
  const int = (n: number) => {
    const b = Buffer.alloc(5);
    b[0] = 0x4a; // BININT, signed 32-bit
    b.writeInt32LE(n, 1);
    parts.push(b);
  };
  const str = (s: string) => {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(Buffer.byteLength(s));
    parts.push(Buffer.from([0x58]), len, Buffer.from(s, 'utf8')); // BINUNICODE
  };
  const global = (m: string, n: string) => parts.push(Buffer.from(`c${m}\n${n}\n`, 'latin1'));
  const tuple = (xs: number[]) => {
    op(0x28); // MARK
    for (const x of xs) int(x);
    op(0x74); // TUPLE
  };
  op(0x80, 2, 0x7d, 0x28); // PROTO 2, EMPTY_DICT, MARK
  tensors.forEach((t, i) => {
    str(t.name);
    global('torch._utils', '_rebuild_tensor_v2');
    op(0x28, 0x28); // MARK (args), MARK (persistent id)
    str('storage');
    global('torch', 'FloatStorage');
    str(String(i));
    str('cpu');
    int(t.shape.reduce((a, b) => a * b, 1));
    op(0x74, 0x51); // TUPLE, BINPERSID
    int(0); // storage offset
    tuple(t.shape);
    tuple(t.stride);
    op(0x89, 0x7d, 0x74, 0x52); // False, EMPTY_DICT (hooks), TUPLE, REDUCE
  });
  op(0x75, 0x2e); // SETITEMS, STOP
  return writeZip([
    { name: 'sd/data.pkl', data: Buffer.concat(parts) },
    ...tensors.map((t, i) => {
      const n = t.shape.reduce((a, b) => a * b, 1);
      return { name: `sd/data/${i}`, data: Buffer.from(new Float32Array(n).fill(0.5).buffer) };
    }),
  ]);
}

/** Row-major strides of a shape. */
function contiguous(shape: number[]): number[] {
  return shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
}

/** The fixture CUT generator's keys and torch shapes. */
function cutKeys(): { name: string; shape: number[] }[] {
  const root = readPth(pthBytes('cut')) as Map<string, TorchTensor>;
  return [...root].map(([name, t]) => ({ name, shape: t.shape }));
}

describe('unsafe pickles are refused, never run', () => {
  it('GLOBAL os.system + REDUCE inside a torch zip', () => {
    rmSync(MARKER, { force: true });
    const err = catchError(read(pthBytes('malicious-os-system')));
    expect(err).toBeInstanceOf(PthError);
    expect((err as PthError).code).toBe('unsafe');
    expect(err.message).toMatch(/refers to os\.system, which is not allowed/);
    expect(existsSync(MARKER)).toBe(false);
  });

  it('builtins.eval in a bare pickle', () => {
    expect(read(pthBytes('malicious-eval'))).toThrow(/builtins\.eval, which is not allowed/);
    expect(existsSync(MARKER)).toBe(false);
  });

  it('a whole pickled model (its class is not a state-dict global)', () => {
    const pkl = Buffer.from('\x80\x02cmodels.networks\nResnetGenerator\n)\x81.', 'latin1');
    expect(read(pkl)).toThrow(/models\.networks\.ResnetGenerator.*state_dict\(\)/);
  });

  it('object-building opcodes even without a global', () => {
    const opts = { globals: new Set<string>(), calls: new Map(), persistentLoad: () => null };
    expect(() => unpickle(Buffer.from('\x80\x02)\x81.', 'latin1'), opts)).toThrow(UnpickleError);
    // REDUCE on something that is not a whitelisted callable
    const reduceOnString = Buffer.from('\x80\x02X\x01\x00\x00\x00a)R.', 'latin1');
    expect(() => unpickle(reduceOnString, opts)).toThrow(/calls string, which is not allowed/);
  });
});

describe('broken files', () => {
  it('an empty file, random bytes', () => {
    expect(read(new Uint8Array())).toThrow(/the file is empty/);
    expect(read(Buffer.from('hello, this is not a checkpoint'))).toThrow(
      /not a PyTorch checkpoint/,
    );
  });

  it('a truncated zip', () => {
    const b = pthBytes('cut');
    const err = catchError(read(b.subarray(0, Math.floor(b.length / 2))));
    expect((err as PthError).code).toBe('corrupt');
    expect(err.message).toMatch(/damaged: no zip end-of-directory record/);
  });

  it('a flipped bit in a tensor record (CRC)', () => {
    const b = Buffer.from(pthBytes('cut'));
    const at = b.indexOf('cut/data/0') + 200; // inside the first storages' data
    b[at] ^= 0x40;
    expect(read(b)).toThrow(/CRC mismatch/);
  });

  it('a negative stride: the tensor, its stride, and that the file is not a valid checkpoint', () => {
    const good = cutKeys().map((k) => ({ ...k, stride: contiguous(k.shape) }));
    expect(read(stridedZip(good))).not.toThrow(); // the crafted file is otherwise sound
    // model.1.weight is [4, 3, 7, 7]: its rows walked backwards from storage offset 0
    const bad = good.map((k) =>
      k.name === 'model.1.weight' ? { ...k, stride: [-147, 49, 7, 1] } : k,
    );
    const err = catchError(read(stridedZip(bad)));
    expect(err).toBeInstanceOf(PthError);
    expect((err as PthError).code).toBe('corrupt');
    expect(err.message).toBe(
      'tensor model.1.weight has a negative stride (-147,49,7,1), which PyTorch never writes: ' +
        'the file is not a valid checkpoint (damaged or crafted)',
    );
  });

  it('a truncated legacy file', () => {
    const b = pthBytes('cyclegan_legacy');
    expect(read(b.subarray(0, b.length - 100))).toThrow(/ends early \(truncated\)/);
  });
});

describe('not a generator', () => {
  it('a discriminator', () => {
    expect(read(pthBytes('discriminator'))).toThrow(
      /looks like a PatchGAN discriminator \(model\.0\.weight is a 4×4 conv of shape \[2,3,4,4\]/,
    );
  });

  it('an optimizer state', () => {
    expect(read(pthBytes('optimizer'))).toThrow(
      /an optimizer state \(keys "state" and "param_groups"\), not a generator/,
    );
  });

  it('a projection head', () => {
    const z = stateDictZip([{ name: 'mlp_0.0.weight', shape: [4, 3] }]);
    expect(read(z)).toThrow(/projection head \(PatchSampleF: 1 keys: mlp_0\.0\.weight\)/);
  });

  it('an unknown network', () => {
    const z = stateDictZip([{ name: 'encoder.conv1.weight', shape: [8, 3, 3, 3] }]);
    expect(read(z)).toThrow(/no 7×7 conv at model\.1 \(found 1 keys: encoder\.conv1\.weight\)/);
  });

  it('weights of the wrong shapes, a missing and an unexpected key', () => {
    const keys = cutKeys().map((k) =>
      k.name === 'model.8.weight' ? { ...k, shape: [16, 8, 5, 5] } : k,
    );
    const wrong = stateDictZip(keys);
    expect(read(wrong)).toThrow(
      /do not fit a cut-resnet generator with ngf 4 and 2 blocks: model\.8\.weight has shape \[16,8,5,5\], expected \[16,8,3,3\]/,
    );
    const missing = stateDictZip([
      ...cutKeys().filter((k) => k.name !== 'model.4.bias'),
      { name: 'model.2.weight', shape: [4] },
    ]);
    const err = catchError(read(missing));
    expect(err.message).toMatch(/model\.4\.bias is missing/);
    expect(err.message).toMatch(/model\.2\.weight is unexpected \(instance norm with affine/);
  });
});

describe('tensor values', () => {
  it('float16 conversion', () => {
    expect(halfToFloat(0x3c00)).toBe(1);
    expect(halfToFloat(0xc000)).toBe(-2);
    expect(halfToFloat(0x3555)).toBeCloseTo(0.33325, 5);
    expect(halfToFloat(0x0001)).toBe(2 ** -24);
  });

  it('views honour storage offset and stride', () => {
    const storage = {
      dtype: 'float32' as const,
      key: '0',
      bytes: new Uint8Array(new Float32Array([0, 1, 2, 3, 4, 5, 6, 7]).buffer),
    };
    // a transposed 2×3 view starting at element 1: rows are storage stride 1, columns 2
    const t = new TorchTensor(storage, 1, [2, 3], [1, 2]);
    expect([...t.values()]).toEqual([1, 3, 5, 2, 4, 6]);
    expect(() => new TorchTensor(storage, 4, [2, 3], [1, 2]).values()).toThrow(/past the end/);
  });
});

function catchError(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}
