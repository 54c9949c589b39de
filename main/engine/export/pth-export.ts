/**
 * A style's generator as a PyTorch state dict in torch.save's zip format, loadable by the
 * reference code (`load_state_dict`, strict): the reference's key names and layouts (conv
 * [out, in, kh, kw], transposed conv [in, out, kh, kw]), float32, and for CUT's generator
 * the fixed blur buffers `filt` its modules register.
 */
import path from 'node:path';
import { architectureOf, specsFor, type StyleGenerator } from '../model/style-generator';
import { tfToTorchKernel, torchShapeOf } from '../import/layout';
import { cutBlurBuffers } from '../import/recognize';
import { stateDictPickle, type PickledTensor } from './state-dict-pickle';
import { writeZip, type ZipRecord } from './zip-writer';

interface Entry {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** The state dict's tensors in torch layouts, in the order the modules register them. */
export function torchStateDict(g: StyleGenerator): Entry[] {
  const architecture = architectureOf(g);
  const entries: Entry[] = specsFor(architecture, g.config).map((s) => {
    const v = g.params.get(s.name);
    if (!v) throw new Error(`the generator has no parameter ${s.name}`);
    const data = v.dataSync() as Float32Array;
    return s.shape.length === 4
      ? { name: s.name, shape: torchShapeOf(s.shape), data: tfToTorchKernel(data, s.shape) }
      : { name: s.name, shape: s.shape, data: Float32Array.from(data) };
  });
  if (architecture === 'cut-resnet') {
    for (const f of cutBlurBuffers(g.config)) {
      entries.push({ name: f.name, shape: f.shape, data: blurFilter(f.shape) });
    }
  }
  return entries.sort((a, b) => compareKeys(a.name, b.name));
}

/** [C, 1, k, k] copies of the binomial filter: k 3 sums to 1 (down), k 4 sums to 4 (up). */
function blurFilter(shape: number[]): Float32Array {
  const [c, , k] = shape;
  const row = k === 3 ? [1, 2, 1] : [1, 3, 3, 1];
  const total = k === 3 ? 1 : 4;
  const sum = row.reduce((a, b) => a + b, 0) ** 2;
  const out = new Float32Array(c * k * k);
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < k; y++) {
      for (let x = 0; x < k; x++) out[(ch * k + y) * k + x] = (row[y] * row[x] * total) / sum;
    }
  }
  return out;
}

/** model.<i>[.conv_block.<j>].<weight|bias|filt>, by layer index, then weight before bias. */
function compareKeys(a: string, b: string): number {
  const parse = (k: string) => {
    const m = /^model\.(\d+)(?:\.conv_block\.(\d+))?\.(\w+)$/.exec(k);
    return m ? [Number(m[1]), Number(m[2] ?? -1), m[3] === 'bias' ? 1 : 0] : [Infinity, 0, 0];
  };
  const [x, y] = [parse(a), parse(b)];
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return 0;
}

/** The bytes of a torch.save zip archive holding the generator's state dict. */
export function exportPth(g: StyleGenerator, fileName: string): Buffer {
  const archive =
    path
      .basename(fileName)
      .replace(/\.[^.]*$/, '')
      .replace(/[^\w.-]/g, '_') || 'archive';
  const entries = torchStateDict(g);
  const pickled: PickledTensor[] = entries.map((e, i) => ({
    name: e.name,
    key: String(i),
    shape: e.shape,
  }));
  const records: ZipRecord[] = [{ name: `${archive}/data.pkl`, data: stateDictPickle(pickled) }];
  records.push({ name: `${archive}/byteorder`, data: Buffer.from('little') });
  entries.forEach((e, i) => {
    const bytes = Buffer.alloc(e.data.length * 4);
    for (let j = 0; j < e.data.length; j++) bytes.writeFloatLE(e.data[j], j * 4);
    records.push({ name: `${archive}/data/${i}`, data: bytes });
  });
  records.push({ name: `${archive}/version`, data: Buffer.from('3\n') });
  return writeZip(records);
}
