/**
 * A safe reader of Python pickles, for PyTorch state dicts only. It implements the opcodes
 * that torch.save emits for dicts of tensors (protocols 0–5: containers, numbers, strings,
 * memo, persistent ids) and resolves globals against a short whitelist that the caller
 * supplies together with a TypeScript stand-in for each callable. Nothing is ever executed:
 * a GLOBAL outside the whitelist (`os.system`, `builtins.eval`, a pickled model class) is
 * refused at once with an error naming it, and so are the opcodes that build arbitrary
 * objects (INST, OBJ, NEWOBJ, EXT*).
 */

export class UnpickleError extends Error {
  constructor(
    message: string,
    /** The refused global, "module.name", when a global was the reason. */
    readonly global?: string,
  ) {
    super(message);
    this.name = 'UnpickleError';
  }
}

/** A global the whitelist allowed, kept as a marker until it is called or used as a type. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

/** Python tuples; lists are plain arrays, dicts are Maps. */
export class PyTuple {
  constructor(readonly items: unknown[]) {}
}

export interface UnpickleOptions {
  /** Globals that may appear, "module.name"; anything else is refused. */
  globals: ReadonlySet<string>;
  /** Stand-ins for the globals that may be called (REDUCE); args arrive as a list. */
  calls: ReadonlyMap<string, (args: unknown[]) => unknown>;
  /** Resolves a persistent id (torch's storage references). */
  persistentLoad(pid: unknown): unknown;
}

const MARK = Symbol('mark');

/** Unpickles one pickle starting at `start`; returns the value and the offset after STOP. */
export function unpickle(
  bytes: Uint8Array,
  opts: UnpickleOptions,
  start = 0,
): { value: unknown; end: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let p = start;

  const need = (n: number) => {
    if (p + n > bytes.length) throw new UnpickleError('the pickle ends early (truncated data)');
  };
  const u8 = () => {
    need(1);
    return bytes[p++];
  };
  const u16 = () => {
    need(2);
    const v = view.getUint16(p, true);
    p += 2;
    return v;
  };
  const u32 = () => {
    need(4);
    const v = view.getUint32(p, true);
    p += 4;
    return v;
  };
  const take = (n: number) => {
    need(n);
    const s = bytes.subarray(p, p + n);
    p += n;
    return s;
  };
  const line = () => {
    const nl = bytes.indexOf(0x0a, p);
    if (nl < 0) throw new UnpickleError('the pickle ends early (truncated data)');
    const s = Buffer.from(bytes.subarray(p, nl)).toString('latin1');
    p = nl + 1;
    return s;
  };
  const utf8 = (b: Uint8Array) => Buffer.from(b).toString('utf8');
  const pop = () => {
    if (!stack.length) throw new UnpickleError('malformed pickle: the stack is empty');
    return stack.pop();
  };
  const top = () => {
    if (!stack.length) throw new UnpickleError('malformed pickle: the stack is empty');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) throw new UnpickleError('malformed pickle: no MARK on the stack');
    const items = stack.splice(i);
    items.shift();
    return items;
  };
  const global = (module: string, name: string) => {
    const q = `${module}.${name}`;
    if (!opts.globals.has(q)) {
      throw new UnpickleError(
        `the pickle refers to ${q}, which is not allowed in a weights file ` +
          '(only tensors, storages and ordered dicts are read; nothing is executed)',
        q,
      );
    }
    return new PyGlobal(module, name);
  };
  const setItems = (target: unknown, kv: unknown[]) => {
    if (!(target instanceof Map))
      throw new UnpickleError('malformed pickle: SETITEM on a non-dict');
    for (let i = 0; i + 1 < kv.length; i += 2) target.set(key(kv[i]), kv[i + 1]);
  };
  const append = (target: unknown, items: unknown[]) => {
    if (!Array.isArray(target)) throw new UnpickleError('malformed pickle: APPEND on a non-list');
    target.push(...items);
  };

  for (;;) {
    const at = p;
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        u8();
        break;
      case 0x95: // FRAME
        take(8);
        break;
      case 0x2e: // STOP
        return { value: pop(), end: p };
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x4a: {
        // BININT
        need(4);
        stack.push(view.getInt32(p, true));
        p += 4;
        break;
      }
      case 0x8a: // LONG1
        stack.push(longLE(take(u8())));
        break;
      case 0x49: {
        // INT (protocol 0): "01"/"00" are True/False
        const s = line();
        stack.push(s === '01' ? true : s === '00' ? false : parseIntStrict(s));
        break;
      }
      case 0x4c: // LONG (protocol 0)
        stack.push(parseIntStrict(line().replace(/L$/, '')));
        break;
      case 0x47: {
        // BINFLOAT, big-endian
        need(8);
        stack.push(view.getFloat64(p, false));
        p += 8;
        break;
      }
      case 0x58: // BINUNICODE
        stack.push(utf8(take(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8(take(u8())));
        break;
      case 0x54: // BINSTRING (Python 2 str)
        stack.push(Buffer.from(take(u32())).toString('latin1'));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(Buffer.from(take(u8())).toString('latin1'));
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()));
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(new PyTuple([]));
        break;
      case 0x74: // TUPLE
        stack.push(new PyTuple(popMark()));
        break;
      case 0x85: // TUPLE1
        stack.push(new PyTuple([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push(new PyTuple([pop(), b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push(new PyTuple([pop(), b, c]));
        break;
      }
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x64: {
        // DICT
        const d = new Map();
        setItems(d, popMark());
        stack.push(d);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const kv = popMark();
        setItems(top(), kv);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        append(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        append(top(), items);
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x70: // PUT (protocol 0)
        memo.set(parseIntStrict(line()), top());
        break;
      case 0x68: // BINGET
      case 0x6a: // LONG_BINGET
      case 0x67: {
        // GET
        const i = op === 0x68 ? u8() : op === 0x6a ? u32() : parseIntStrict(line());
        if (!memo.has(i)) throw new UnpickleError(`malformed pickle: memo entry ${i} is unset`);
        stack.push(memo.get(i));
        break;
      }
      case 0x63: {
        // GLOBAL
        const module = line();
        stack.push(global(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') {
          throw new UnpickleError('malformed pickle: STACK_GLOBAL needs two strings');
        }
        stack.push(global(module, name));
        break;
      }
      case 0x51: // BINPERSID
        stack.push(opts.persistentLoad(pop()));
        break;
      case 0x50: // PERSID
        stack.push(opts.persistentLoad(line()));
        break;
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        const name = fn instanceof PyGlobal ? fn.qualified : describe(fn);
        const call = fn instanceof PyGlobal ? opts.calls.get(name) : undefined;
        if (!call) {
          throw new UnpickleError(`the pickle calls ${name}, which is not allowed`, name);
        }
        if (!(args instanceof PyTuple)) throw new UnpickleError('malformed pickle: REDUCE args');
        stack.push(call(args.items));
        break;
      }
      case 0x62: {
        // BUILD: only the attribute dict torch puts on a state dict (`_metadata`) is accepted
        const state = pop();
        const obj = top();
        if (!(obj instanceof Map) || !(state instanceof Map)) {
          throw new UnpickleError(`BUILD on ${describe(obj)} is not allowed`);
        }
        break;
      }
      case 0x69: // INST
      case 0x6f: // OBJ
      case 0x81: // NEWOBJ
      case 0x92: // NEWOBJ_EX
      case 0x82: // EXT1
      case 0x83: // EXT2
      case 0x84: // EXT4
        throw new UnpickleError(
          `pickle opcode 0x${op.toString(16)} at byte ${at} builds arbitrary objects and is ` +
            'not allowed in a weights file',
        );
      default:
        throw new UnpickleError(
          `pickle opcode 0x${op.toString(16)} at byte ${at} is not one a state dict uses`,
        );
    }
  }
}

function key(k: unknown): string | number {
  if (typeof k === 'string' || typeof k === 'number') return k;
  if (typeof k === 'bigint') return Number(k);
  if (typeof k === 'boolean') return k ? 1 : 0;
  throw new UnpickleError(`dict key of type ${describe(k)} is not supported`);
}

function describe(v: unknown): string {
  if (v instanceof PyGlobal) return v.qualified;
  if (v instanceof PyTuple) return 'a tuple';
  if (v instanceof Map) return 'a dict';
  if (Array.isArray(v)) return 'a list';
  return v === null ? 'None' : typeof v;
}

/** Little-endian two's complement integer of any width (LONG1). */
function longLE(b: Uint8Array): number {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return Number(v);
}

function parseIntStrict(s: string): number {
  if (!/^-?\d+$/.test(s.trim())) throw new UnpickleError(`malformed pickle: bad integer "${s}"`);
  return Number(s);
}
