/**
 * Just enough protobuf to write an ONNX model (onnx/onnx.proto, IR version 8): a field
 * writer for varints, 32-bit floats and length-delimited bytes, and the messages the
 * generator's graph uses — ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto,
 * ValueInfoProto. Field numbers are those of onnx.proto.
 */

class Msg {
  private readonly parts: Buffer[] = [];

  private tag(field: number, wire: number) {
    this.varint((field << 3) | wire);
  }
  private varint(n: number | bigint) {
    let v = BigInt.asUintN(64, BigInt(n));
    const out: number[] = [];
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v) byte |= 0x80;
      out.push(byte);
    } while (v);
    this.parts.push(Buffer.from(out));
  }
  int(field: number, n: number) {
    this.tag(field, 0);
    this.varint(n);
    return this;
  }
  float(field: number, x: number) {
    this.tag(field, 5);
    const b = Buffer.alloc(4);
    b.writeFloatLE(x);
    this.parts.push(b);
    return this;
  }
  bytes(field: number, b: Uint8Array) {
    this.tag(field, 2);
    this.varint(b.length);
    this.parts.push(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
    return this;
  }
  str(field: number, s: string) {
    return this.bytes(field, Buffer.from(s, 'utf8'));
  }
  msg(field: number, m: Msg) {
    return this.bytes(field, m.done());
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

export type AttrValue = number | number[] | string | { float: number };

export interface OnnxNode {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, AttrValue>;
}

export interface OnnxTensor {
  name: string;
  dims: number[];
  /** float32 or int64 values. */
  data: Float32Array | BigInt64Array;
}

export interface OnnxValue {
  name: string;
  /** Fixed sizes, or names for dynamic ones ("height"). */
  dims: (number | string)[];
}

const FLOAT = 1;
const INT64 = 7;

function attribute(name: string, v: AttrValue): Msg {
  const a = new Msg().str(1, name);
  if (typeof v === 'string') return a.bytes(4, Buffer.from(v, 'utf8')).int(20, 3);
  if (typeof v === 'number') return a.int(3, v).int(20, 2);
  if (Array.isArray(v)) {
    for (const x of v) a.int(8, x);
    return a.int(20, 7);
  }
  return a.float(2, v.float).int(20, 1);
}

function tensor(t: OnnxTensor): Msg {
  const m = new Msg();
  for (const d of t.dims) m.int(1, d);
  m.int(2, t.data instanceof Float32Array ? FLOAT : INT64);
  m.str(8, t.name);
  const raw = Buffer.alloc(t.data.byteLength);
  if (t.data instanceof Float32Array) t.data.forEach((x, i) => raw.writeFloatLE(x, i * 4));
  else t.data.forEach((x, i) => raw.writeBigInt64LE(x, i * 8));
  return m.bytes(9, raw);
}

function valueInfo(v: OnnxValue): Msg {
  const shape = new Msg();
  for (const d of v.dims) {
    shape.msg(1, typeof d === 'number' ? new Msg().int(1, d) : new Msg().str(2, d));
  }
  const tensorType = new Msg().int(1, FLOAT).msg(2, shape);
  return new Msg().str(1, v.name).msg(2, new Msg().msg(1, tensorType));
}

export interface OnnxModel {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValue[];
  outputs: OnnxValue[];
  opset: number;
  docString?: string;
}

export function encodeModel(model: OnnxModel): Buffer {
  const graph = new Msg();
  model.nodes.forEach((n, i) => {
    const node = new Msg();
    for (const x of n.inputs) node.str(1, x);
    for (const y of n.outputs) node.str(2, y);
    node.str(3, `${n.op}_${i}`).str(4, n.op);
    for (const [k, v] of Object.entries(n.attrs ?? {})) node.msg(5, attribute(k, v));
    graph.msg(1, node);
  });
  graph.str(2, model.name);
  for (const t of model.initializers) graph.msg(5, tensor(t));
  for (const v of model.inputs) graph.msg(11, valueInfo(v));
  for (const v of model.outputs) graph.msg(12, valueInfo(v));
  const m = new Msg().int(1, 8).str(2, 'patchwork'); // ir_version, producer_name
  if (model.docString) m.str(6, model.docString);
  m.msg(7, graph);
  m.msg(8, new Msg().str(1, '').int(2, model.opset));
  return m.done();
}
