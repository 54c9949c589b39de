/**
 * The pickle (protocol 2) of a state dict as torch.load reads it from a zip checkpoint:
 * an OrderedDict of name → torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
 * requires_grad=False, OrderedDict()), each storage a persistent id
 * ('storage', torch.FloatStorage, key, 'cpu', numel). Only globals that torch's own
 * weights-only loader accepts are written.
 */

export interface PickledTensor {
  name: string;
  /** The storage record's key (the file name under data/). */
  key: string;
  shape: number[];
}

class Out {
  private readonly chunks: Buffer[] = [];
  op(...bytes: number[]) {
    this.chunks.push(Buffer.from(bytes));
  }
  global(module: string, name: string) {
    this.chunks.push(Buffer.from(`c${module}\n${name}\n`, 'latin1'));
  }
  str(s: string) {
    const b = Buffer.from(s, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length);
    this.chunks.push(Buffer.from([0x58]), len, b); // BINUNICODE
  }
  int(n: number) {
    if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) throw new RangeError(`int ${n}`);
    if (n < 256)
      this.op(0x4b, n); // BININT1
    else {
      const b = Buffer.alloc(5);
      b[0] = 0x4a; // BININT
      b.writeInt32LE(n, 1);
      this.chunks.push(b);
    }
  }
  tuple(items: number[]) {
    this.op(0x28); // MARK
    for (const i of items) this.int(i);
    this.op(0x74); // TUPLE
  }
  emptyOrderedDict() {
    this.global('collections', 'OrderedDict');
    this.op(0x29, 0x52); // EMPTY_TUPLE, REDUCE
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

export function stateDictPickle(tensors: PickledTensor[]): Buffer {
  const o = new Out();
  o.op(0x80, 2); // PROTO 2
  o.emptyOrderedDict();
  o.op(0x28); // MARK
  for (const t of tensors) {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    const stride = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1));
    o.str(t.name);
    o.global('torch._utils', '_rebuild_tensor_v2');
    o.op(0x28); // MARK (args)
    o.op(0x28); // MARK (persistent id)
    o.str('storage');
    o.global('torch', 'FloatStorage');
    o.str(t.key);
    o.str('cpu');
    o.int(numel);
    o.op(0x74, 0x51); // TUPLE, BINPERSID
    o.int(0); // storage offset
    o.tuple(t.shape);
    o.tuple(stride);
    o.op(0x89); // requires_grad False
    o.emptyOrderedDict(); // backward hooks
    o.op(0x74, 0x52); // TUPLE, REDUCE
  }
  o.op(0x75, 0x2e); // SETITEMS, STOP
  return o.bytes();
}
