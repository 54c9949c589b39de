/**
 * The inner loop of a heatmap query: out[j] = rows[j]·v for every row of an [n, dim] matrix
 * of unit feature rows. It decides whether a query can follow the mouse: at 1 megapixel and
 * the full-resolution taps that is 10⁶ rows of 256 floats.
 *
 * Plain JS runs it at well under one multiply-add per nanosecond. A tiny WebAssembly module
 * with 128-bit SIMD (four float lanes, two accumulators) does several times better; it is
 * written out below as bytes, instruction by instruction, since the project builds no wasm.
 * Each row store owns its WebAssembly.Memory, laid out as [rows | v | out], so the rows are
 * written once where the kernel reads them, and dropping the store frees its memory. Where
 * the engine cannot compile SIMD, or dim is not a multiple of 8, the JS loop is used.
 */

/** A row matrix and the product with one vector. */
export interface RowStore {
  readonly n: number;
  readonly dim: number;
  /** [n, dim], row-major; fill it, then call dot. */
  readonly rows: Float32Array;
  /** out[j] = rows[j]·v; out.length must be n, v.length dim. */
  dot(v: Float32Array, out: Float32Array): void;
  /** 'wasm-simd' or 'js'. */
  readonly kernel: 'wasm-simd' | 'js';
}

const PAGE = 65536;
const MAX_PAGES = 65536; // wasm32: 4 GiB

// prettier-ignore
const HEADER = [
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
  // type section: one type, (i32 rows, i32 n, i32 dim, i32 v, i32 out) → ()
  0x01, 0x09, 0x01, 0x60, 0x05, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x00,
  // import section: env.mem, a memory of at least one page
  0x02, 0x0c, 0x01, 0x03, 0x65, 0x6e, 0x76, 0x03, 0x6d, 0x65, 0x6d, 0x02, 0x00, 0x01,
  // function section: function 0 has type 0
  0x03, 0x02, 0x01, 0x00,
  // export section: "dot" = function 0
  0x07, 0x07, 0x01, 0x03, 0x64, 0x6f, 0x74, 0x00, 0x00,
];

/** The body of `dot`: rows, n, dim, v, out are byte offsets and counts (locals 0–4). */
// prettier-ignore
const BODY = [
  // locals: 5 j, 6 o, 7 k, 8 rowBytes (i32); 9 acc0, 10 acc1 (v128)
  0x02, 0x04, 0x7f, 0x02, 0x7b,
  0x20, 0x02, 0x41, 0x02, 0x74, 0x21, 0x08, // rowBytes = dim << 2
  0x20, 0x00, 0x21, 0x06, // o = rows
  0x02, 0x40, // block
  0x03, 0x40, // loop over rows
  0x20, 0x05, 0x20, 0x01, 0x4f, 0x0d, 0x01, // if j >= n: break
  0xfd, 0x0c, ...new Array<number>(16).fill(0), 0x21, 0x09, // acc0 = 0
  0xfd, 0x0c, ...new Array<number>(16).fill(0), 0x21, 0x0a, // acc1 = 0
  0x41, 0x00, 0x21, 0x07, // k = 0
  0x03, 0x40, // loop over 8 floats at a time
  0x20, 0x09, // acc0
  0x20, 0x06, 0x20, 0x07, 0x6a, 0xfd, 0x00, 0x02, 0x00, // load rows[o + k]
  0x20, 0x03, 0x20, 0x07, 0x6a, 0xfd, 0x00, 0x02, 0x00, // load v[k]
  0xfd, 0xe6, 0x01, 0xfd, 0xe4, 0x01, 0x21, 0x09, // acc0 += product (f32x4.mul, f32x4.add)
  0x20, 0x0a, // acc1
  0x20, 0x06, 0x20, 0x07, 0x6a, 0xfd, 0x00, 0x02, 0x10, // load rows[o + k + 16 bytes]
  0x20, 0x03, 0x20, 0x07, 0x6a, 0xfd, 0x00, 0x02, 0x10, // load v[k + 16 bytes]
  0xfd, 0xe6, 0x01, 0xfd, 0xe4, 0x01, 0x21, 0x0a, // acc1 += product
  0x20, 0x07, 0x41, 0x20, 0x6a, 0x22, 0x07, // k += 32 bytes
  0x20, 0x08, 0x49, 0x0d, 0x00, // while k < rowBytes
  0x0b, // end loop
  0x20, 0x09, 0x20, 0x0a, 0xfd, 0xe4, 0x01, 0x21, 0x09, // acc0 += acc1
  0x20, 0x04, 0x20, 0x05, 0x41, 0x02, 0x74, 0x6a, // address out + 4j
  0x20, 0x09, 0xfd, 0x1f, 0x00, // lane 0
  0x20, 0x09, 0xfd, 0x1f, 0x01, 0x92, // + lane 1
  0x20, 0x09, 0xfd, 0x1f, 0x02, 0x92, // + lane 2
  0x20, 0x09, 0xfd, 0x1f, 0x03, 0x92, // + lane 3
  0x38, 0x02, 0x00, // f32.store
  0x20, 0x06, 0x20, 0x08, 0x6a, 0x21, 0x06, // o += rowBytes
  0x20, 0x05, 0x41, 0x01, 0x6a, 0x21, 0x05, // j += 1
  0x0c, 0x00, // next row
  0x0b, // end loop
  0x0b, // end block
  0x0b, // end function
];

function leb128(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return out;
}

/** The module: header, then the code section (id 10) holding one body, sizes in LEB128. */
function moduleBytes(): Uint8Array {
  const entry = [...leb128(BODY.length), ...BODY];
  const section = [0x01, ...entry]; // one function body
  return new Uint8Array([...HEADER, 0x0a, ...leb128(section.length), ...section]);
}

/** The parts of the WebAssembly JS API used here (the project's lib settings omit its values). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: new (limits: { initial: number }) => { buffer: ArrayBuffer };
}
const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

/** The compiled kernel, or null where this engine has no wasm SIMD. */
const compiled: object | null = (() => {
  if (!wasm) return null;
  try {
    return new wasm.Module(moduleBytes());
  } catch {
    return null;
  }
})();

export function createRowStore(n: number, dim: number, kernel: 'auto' | 'js' = 'auto'): RowStore {
  const bytes = (n * dim + dim + n) * 4;
  const pages = Math.ceil(bytes / PAGE);
  if (kernel === 'auto' && wasm && compiled && dim % 8 === 0 && n > 0 && pages <= MAX_PAGES) {
    const mem = new wasm.Memory({ initial: Math.max(1, pages) });
    const instance = new wasm.Instance(compiled, { env: { mem } });
    const run = instance.exports.dot as (
      r: number,
      n: number,
      d: number,
      v: number,
      o: number,
    ) => void;
    const vAt = n * dim * 4;
    const outAt = vAt + dim * 4;
    const rows = new Float32Array(mem.buffer, 0, n * dim);
    const vIn = new Float32Array(mem.buffer, vAt, dim);
    const outIn = new Float32Array(mem.buffer, outAt, n);
    return {
      n,
      dim,
      rows,
      kernel: 'wasm-simd',
      dot(v, out) {
        vIn.set(v);
        run(0, n, dim, vAt, outAt);
        out.set(outIn);
      },
    };
  }
  const rows = new Float32Array(n * dim);
  return { n, dim, rows, kernel: 'js', dot: (v, out) => dotRows(rows, dim, v, out) };
}

/** out[j] = rows[j]·v for every row of a [n, dim] matrix, in plain JS. */
export function dotRows(rows: Float32Array, dim: number, v: Float32Array, out: Float32Array): void {
  const n = out.length;
  const d4 = dim - (dim % 4);
  for (let j = 0, o = 0; j < n; j++, o += dim) {
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let k = 0;
    for (; k < d4; k += 4) {
      s0 += rows[o + k] * v[k];
      s1 += rows[o + k + 1] * v[k + 1];
      s2 += rows[o + k + 2] * v[k + 2];
      s3 += rows[o + k + 3] * v[k + 3];
    }
    for (; k < dim; k++) s0 += rows[o + k] * v[k];
    out[j] = s0 + s1 + s2 + s3;
  }
}
