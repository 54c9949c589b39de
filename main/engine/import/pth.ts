/**
 * Reads PyTorch `.pth` files without Python: the zip container of torch.save since 1.6
 * (`<name>/data.pkl` + one record per storage) and the legacy stream before it (magic number,
 * protocol, system info, the object pickle, the storage keys, then each storage's bytes).
 * The pickles go through the safe unpickler with a whitelist of exactly what a state dict
 * of tensors needs. Tensors come out as contiguous float32 in torch's (row-major) layout,
 * honouring each view's storage offset, size and stride; float16, bfloat16, float64 and the
 * integer types are converted. The pre-1.0 tar format is refused with a message.
 */
import { looksLikeZip, ZipError, ZipReader } from './zip';
import { PyGlobal, PyTuple, unpickle, UnpickleError } from './unpickle';

export type PthErrorCode = 'not-a-checkpoint' | 'corrupt' | 'unsafe' | 'unsupported';

export class PthError extends Error {
  constructor(
    readonly code: PthErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PthError';
  }
}

type DType =
  | 'float32'
  | 'float64'
  | 'float16'
  | 'bfloat16'
  | 'int64'
  | 'int32'
  | 'int16'
  | 'int8'
  | 'uint8'
  | 'bool';

const STORAGE_TYPES: Record<string, DType> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
  UntypedStorage: 'uint8',
};

const ITEM_SIZE: Record<DType, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

interface Storage {
  dtype: DType;
  key: string;
  /** Set once the storage's bytes are known (at once for zip, after the pickle for legacy). */
  bytes: Uint8Array | null;
}

/** A tensor of the checkpoint: torch's shape, values read on demand as float32. */
export class TorchTensor {
  constructor(
    readonly storage: Storage,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}

  get dtype(): DType {
    return this.storage.dtype;
  }

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /**
   * What is wrong with this view of its storage, or null: sizes, strides and offset that
   * PyTorch writes (none negative), every element inside the storage's bytes. Checked before
   * reading, so a damaged or crafted file is named as such rather than failing with a bare
   * RangeError deep in the copy (a negative stride walks before the storage's start).
   */
  problem(): string | null {
    const { bytes, key, dtype } = this.storage;
    if (this.shape.some((n) => n < 0)) {
      return `has a negative size [${this.shape}], which PyTorch never writes`;
    }
    if (this.stride.some((n) => n < 0)) {
      return `has a negative stride (${this.stride}), which PyTorch never writes`;
    }
    if (this.offset < 0) {
      return `has a negative storage offset (${this.offset}), which PyTorch never writes`;
    }
    if (!bytes) return `refers to storage ${key}, which has no data`;
    if (this.size === 0) return null;
    let last = this.offset;
    for (let d = 0; d < this.shape.length; d++) last += (this.shape[d] - 1) * this.stride[d];
    if ((last + 1) * ITEM_SIZE[dtype] > bytes.length) {
      return (
        `of shape [${this.shape}] reads past the end of storage ${key} ` + `(${bytes.length} bytes)`
      );
    }
    return null;
  }

  /** Contiguous float32 values in row-major order of `shape`. */
  values(): Float32Array {
    const problem = this.problem();
    if (problem) throw new PthError('corrupt', `a tensor ${problem}`);
    const { dtype, bytes } = this.storage;
    if (!bytes) throw new PthError('corrupt', `storage ${this.storage.key} has no data`);
    const item = ITEM_SIZE[dtype];
    const n = this.size;
    const out = new Float32Array(n);
    if (n === 0) return out;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const get = reader(dtype, view);
    const rank = this.shape.length;
    const idx = new Array<number>(rank).fill(0);
    let src = this.offset;
    for (let i = 0; i < n; i++) {
      out[i] = get(src * item);
      // Advance the multi-index (last axis fastest), keeping the storage position in step.
      for (let d = rank - 1; d >= 0; d--) {
        idx[d]++;
        src += this.stride[d];
        if (idx[d] < this.shape[d]) break;
        src -= this.stride[d] * this.shape[d];
        idx[d] = 0;
      }
    }
    return out;
  }
}

function reader(dtype: DType, v: DataView): (byte: number) => number {
  switch (dtype) {
    case 'float32':
      return (b) => v.getFloat32(b, true);
    case 'float64':
      return (b) => v.getFloat64(b, true);
    case 'float16': {
      const table = halfTable();
      return (b) => table[v.getUint16(b, true)];
    }
    case 'bfloat16': {
      const bits = new Uint32Array(1);
      const value = new Float32Array(bits.buffer);
      return (b) => {
        bits[0] = v.getUint16(b, true) << 16;
        return value[0];
      };
    }
    case 'int64':
      return (b) => Number(v.getBigInt64(b, true));
    case 'int32':
      return (b) => v.getInt32(b, true);
    case 'int16':
      return (b) => v.getInt16(b, true);
    case 'int8':
      return (b) => v.getInt8(b);
    case 'uint8':
    case 'bool':
      return (b) => v.getUint8(b);
  }
}

let halfValues: Float32Array | null = null;
/** Every float16 bit pattern's value, built once (checkpoints hold millions of halves). */
function halfTable(): Float32Array {
  if (!halfValues) {
    halfValues = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfValues[h] = halfToFloat(h);
  }
  return halfValues;
}

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const GLOBALS = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  ...Object.keys(STORAGE_TYPES).map((s) => `torch.${s}`),
]);

function ints(v: unknown, what: string): number[] {
  const items = v instanceof PyTuple ? v.items : Array.isArray(v) ? v : null;
  if (!items || !items.every((x) => typeof x === 'number' && Number.isInteger(x))) {
    throw new PthError('corrupt', `a tensor's ${what} is not a tuple of integers`);
  }
  return items as number[];
}

function rebuildTensor(args: unknown[]): TorchTensor {
  const [storage, offset, size, stride] = args;
  if (!isStorage(storage) || typeof offset !== 'number') {
    throw new PthError('corrupt', 'a tensor does not refer to a storage');
  }
  const shape = ints(size, 'size');
  const strides = ints(stride, 'stride');
  if (shape.length !== strides.length) {
    throw new PthError('corrupt', `a tensor's size and stride differ in length`);
  }
  return new TorchTensor(storage, offset, shape, strides);
}

function isStorage(v: unknown): v is Storage {
  return typeof v === 'object' && v !== null && 'dtype' in v && 'key' in v && 'bytes' in v;
}

function callsFor(): Map<string, (args: unknown[]) => unknown> {
  return new Map<string, (args: unknown[]) => unknown>([
    ['collections.OrderedDict', () => new Map()],
    ['torch._utils._rebuild_tensor', rebuildTensor],
    ['torch._utils._rebuild_tensor_v2', rebuildTensor],
    [
      'torch._utils._rebuild_parameter',
      (args) => {
        if (!(args[0] instanceof TorchTensor)) {
          throw new PthError('corrupt', 'a parameter does not wrap a tensor');
        }
        return args[0];
      },
    ],
  ]);
}

/** ('storage', <type global>, key, location, numel[, view metadata]) → a Storage. */
function storageFromPid(pid: unknown, storages: Map<string, Storage>): Storage {
  const items = pid instanceof PyTuple ? pid.items : null;
  if (!items || items[0] !== 'storage' || !(items[1] instanceof PyGlobal)) {
    throw new PthError('corrupt', 'a persistent id is not a torch storage reference');
  }
  const dtype = STORAGE_TYPES[items[1].name];
  if (!dtype || items[1].module !== 'torch') {
    throw new PthError('unsupported', `storage type ${items[1].qualified} is not supported`);
  }
  if (items[5] !== undefined && items[5] !== null) {
    throw new PthError('unsupported', 'legacy storage views are not supported');
  }
  const key = String(items[2]);
  let s = storages.get(key);
  if (!s) {
    s = { dtype, key, bytes: null };
    storages.set(key, s);
  }
  return s;
}

function unpickleOrThrow(bytes: Uint8Array, load: (pid: unknown) => unknown, start = 0) {
  try {
    return unpickle(bytes, { globals: GLOBALS, calls: callsFor(), persistentLoad: load }, start);
  } catch (err) {
    if (err instanceof UnpickleError) {
      const code =
        err.global !== undefined || /not allowed/.test(err.message) ? 'unsafe' : 'corrupt';
      const hint =
        err.global !== undefined && !/^(os|builtins|posix|nt|subprocess|sys)\./.test(err.global)
          ? ' (is this a whole pickled model? Save its state_dict() instead)'
          : '';
      throw new PthError(code, `refused: ${err.message}${hint}`, { cause: err });
    }
    throw err;
  }
}

/**
 * The unpickled top-level object of a `.pth` file, with tensors as TorchTensor, each checked
 * against its storage (checkTensors).
 */
export function readPth(bytes: Uint8Array): unknown {
  if (bytes.length === 0) throw new PthError('not-a-checkpoint', 'the file is empty');
  if (looksLikeZip(bytes)) return checkTensors(readZipPth(bytes));
  if (bytes[0] === 0x80) return checkTensors(readLegacyPth(bytes));
  if (bytes.length > 262 && Buffer.from(bytes.subarray(257, 262)).toString('latin1') === 'ustar') {
    throw new PthError(
      'unsupported',
      'this is the tar-based format of PyTorch before 1.0, which is not supported; load it ' +
        'in PyTorch and save it again with torch.save',
    );
  }
  throw new PthError(
    'not-a-checkpoint',
    'not a PyTorch checkpoint (neither a torch.save zip archive nor a legacy pickle)',
  );
}

/**
 * Checks every tensor reachable from `root` (TorchTensor.problem), naming it by its keys
 * ("model.1.weight", "netG/model.1.weight"): here the names are known, inside the unpickler
 * they are not yet. Iterative, and each container once, since a crafted pickle can nest
 * deeply or refer to itself through the memo.
 */
function checkTensors(root: unknown): unknown {
  const seen = new Set<object>();
  const todo: { value: unknown; name: string }[] = [{ value: root, name: '' }];
  const within = (name: string, k: unknown) => (name ? `${name}/${String(k)}` : String(k));
  for (let next = todo.pop(); next; next = todo.pop()) {
    const { value, name } = next;
    if (value instanceof TorchTensor) {
      const problem = value.problem();
      if (problem) {
        throw new PthError(
          'corrupt',
          `tensor ${name || '(the top-level object)'} ${problem}: the file is not a valid ` +
            'checkpoint (damaged or crafted)',
        );
      }
      continue;
    }
    if (typeof value !== 'object' || value === null || seen.has(value)) continue;
    seen.add(value);
    if (value instanceof Map) {
      for (const [k, v] of value) todo.push({ value: v, name: within(name, k) });
    } else if (Array.isArray(value) || value instanceof PyTuple) {
      const items: unknown[] = Array.isArray(value) ? value : value.items;
      items.forEach((v, i) => todo.push({ value: v, name: within(name, i) }));
    }
  }
  return root;
}

function readZipPth(bytes: Uint8Array): unknown {
  let zip: ZipReader;
  try {
    zip = new ZipReader(bytes);
  } catch (err) {
    throw new PthError('corrupt', `the checkpoint archive is damaged: ${(err as Error).message}`);
  }
  const pkl = [...zip.entries.keys()].find((n) => /^[^/]*\/?data\.pkl$/.test(n));
  if (!pkl) {
    throw new PthError('not-a-checkpoint', 'a zip archive, but not a torch.save one (no data.pkl)');
  }
  const prefix = pkl.slice(0, pkl.length - 'data.pkl'.length);
  const order = zip.entries.get(`${prefix}byteorder`);
  if (order && readEntry(zip, order.name).toString() !== 'little') {
    throw new PthError('unsupported', 'big-endian checkpoints are not supported');
  }
  const storages = new Map<string, Storage>();
  const value = unpickleOrThrow(readEntry(zip, pkl), (pid) => {
    const s = storageFromPid(pid, storages);
    if (!s.bytes) s.bytes = readEntry(zip, `${prefix}data/${s.key}`);
    return s;
  }).value;
  return value;
}

function readEntry(zip: ZipReader, name: string): Buffer {
  try {
    const b = zip.read(name);
    return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  } catch (err) {
    if (err instanceof ZipError) {
      throw new PthError('corrupt', `the checkpoint archive is damaged: ${err.message}`);
    }
    throw err;
  }
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

function readLegacyPth(bytes: Uint8Array): unknown {
  const none = () => {
    throw new PthError('corrupt', 'unexpected persistent id in a legacy header');
  };
  const magic = unpickleOrThrow(bytes, none);
  // The magic is a 77-bit integer; the unpickler's number keeps its leading bits.
  if (magic.value !== Number(LEGACY_MAGIC)) {
    throw new PthError('not-a-checkpoint', 'a pickle, but not a torch.save file (no magic number)');
  }
  const version = unpickleOrThrow(bytes, none, magic.end);
  if (version.value !== 1001) {
    throw new PthError('unsupported', `legacy protocol version ${String(version.value)}`);
  }
  const info = unpickleOrThrow(bytes, none, version.end);
  if (info.value instanceof Map && info.value.get('little_endian') === false) {
    throw new PthError('unsupported', 'big-endian checkpoints are not supported');
  }
  const storages = new Map<string, Storage>();
  const main = unpickleOrThrow(bytes, (pid) => storageFromPid(pid, storages), info.end);
  const keys = unpickleOrThrow(bytes, none, main.end);
  if (!Array.isArray(keys.value)) throw new PthError('corrupt', 'the storage key list is missing');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = keys.end;
  for (const k of keys.value) {
    const s = storages.get(String(k));
    if (!s) throw new PthError('corrupt', `storage ${String(k)} is listed but never used`);
    if (p + 8 > bytes.length) throw new PthError('corrupt', 'the file ends early (truncated)');
    const n = Number(view.getBigInt64(p, true));
    const len = n * ITEM_SIZE[s.dtype];
    p += 8;
    if (n < 0 || p + len > bytes.length) {
      throw new PthError('corrupt', 'the file ends early (truncated)');
    }
    s.bytes = bytes.subarray(p, p + len);
    p += len;
  }
  return main.value;
}
