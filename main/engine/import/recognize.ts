/**
 * Which generator a state dict holds, from its keys and shapes alone: the anti-aliased ResNet
 * generator of CUT/FastCUT (stride-1 convs at model.4/model.8, blur buffers `filt`) or the one
 * of CycleGAN (stride-2 convs at model.4/model.7, transposed convs up). The block count comes
 * from the `conv_block` indices, ngf from model.1's output channels. A `module.` prefix
 * (DataParallel) is stripped and stale instance-norm statistics are dropped; anything else —
 * a discriminator, an optimizer state, a projection head, other keys or shapes — is refused
 * with a message saying what was found. Weights come out in TF.js layouts under the
 * reference's names, ready for a style folder.
 */
import { specsFor, type Architecture } from '../model/style-generator';
import type { GeneratorConfig } from '../model/generator';
import { torchShapeOf, torchToTfKernel } from './layout';
import { PthError, TorchTensor } from './pth';

export interface RecognizedGenerator {
  architecture: Architecture;
  config: { ngf: number; nBlocks: number };
  /** TF.js layouts, keyed by the reference's parameter names, in network order. */
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
  /** What was set aside on the way (prefix, statistics, blur buffers), for the log. */
  notes: string[];
}

/** The fixed blur buffers of the CUT generator: names and torch shapes. */
export function cutBlurBuffers(cfg: GeneratorConfig): { name: string; shape: number[] }[] {
  const { ngf, nBlocks: n } = cfg;
  return [
    { name: 'model.7.filt', shape: [2 * ngf, 1, 3, 3] },
    { name: 'model.11.filt', shape: [4 * ngf, 1, 3, 3] },
    { name: `model.${12 + n}.filt`, shape: [4 * ngf, 1, 4, 4] },
    { name: `model.${16 + n}.filt`, shape: [2 * ngf, 1, 4, 4] },
  ];
}

const fail = (message: string) => new PthError('not-a-checkpoint', message);

export function recognizeGenerator(root: unknown): RecognizedGenerator {
  const notes: string[] = [];
  const dict = stateDictOf(root, notes);
  const tensors = new Map<string, TorchTensor>();
  for (const [k, v] of dict) {
    if (v instanceof TorchTensor) tensors.set(String(k), v);
  }
  const keys = [...tensors.keys()];
  if (keys.length && keys.every((k) => k.startsWith('module.'))) {
    for (const k of keys) {
      tensors.set(k.slice('module.'.length), tensors.get(k) as TorchTensor);
      tensors.delete(k);
    }
    notes.push('stripped the "module." prefix (saved from DataParallel)');
  }
  const stats = [...tensors.keys()].filter((k) =>
    /\.(running_mean|running_var|num_batches_tracked)$/.test(k),
  );
  for (const k of stats) tensors.delete(k);
  if (stats.length) notes.push(`ignored ${stats.length} stale instance-norm statistics`);

  const found = describeKeys([...tensors.keys()]);
  if ([...tensors.keys()].some((k) => /^mlp_\d+\./.test(k))) {
    throw fail(`this is a projection head (PatchSampleF: ${found}), not a generator`);
  }
  const first = tensors.get('model.0.weight');
  if (first && first.shape.length === 4 && first.shape[2] === 4) {
    throw fail(
      `this looks like a PatchGAN discriminator (model.0.weight is a 4×4 conv of shape ` +
        `[${first.shape}]; ${found}), not a generator; use the latest_net_G.pth file`,
    );
  }
  const stem = tensors.get('model.1.weight');
  if (!stem || stem.shape.length !== 4 || stem.shape[2] !== 7 || stem.shape[3] !== 7) {
    throw fail(`not a ResNet generator state dict: no 7×7 conv at model.1 (found ${found})`);
  }
  const architecture: Architecture = tensors.has('model.8.weight')
    ? 'cut-resnet'
    : tensors.has('model.7.weight')
      ? 'cyclegan-resnet'
      : (() => {
          throw fail(`unknown generator: no down-sampling conv at model.7 or model.8 (${found})`);
        })();
  const firstBlock = architecture === 'cut-resnet' ? 12 : 10;
  const blocks = [...tensors.keys()]
    .map((k) => /^model\.(\d+)\.conv_block\.1\.weight$/.exec(k))
    .filter((m) => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
  if (!blocks.length || blocks.some((b, i) => b !== firstBlock + i)) {
    throw fail(
      `the residual blocks of this ${architecture} generator should be model.${firstBlock}, ` +
        `model.${firstBlock + 1}, …; found [${blocks.join(', ')}]`,
    );
  }
  const [ngf, inputChannels] = stem.shape;
  if (inputChannels !== 3) {
    throw new PthError(
      'unsupported',
      `the generator takes ${inputChannels} input channels; only RGB (3) is supported`,
    );
  }
  const config = { ngf, nBlocks: blocks.length };
  const specs = specsFor(architecture, config);
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  const problems: string[] = [];
  for (const s of specs) {
    const t = tensors.get(s.name);
    const want = torchShapeOf(s.shape);
    if (!t) problems.push(`${s.name} is missing`);
    else if (t.shape.join() !== want.join()) {
      problems.push(`${s.name} has shape [${t.shape}], expected [${want}]`);
    } else {
      const v = t.values();
      out.set(s.name, {
        shape: s.shape,
        data: s.shape.length === 4 ? torchToTfKernel(v, want) : v,
      });
    }
  }
  const known = new Set(specs.map((s) => s.name));
  if (architecture === 'cut-resnet') {
    const filts = cutBlurBuffers(config);
    for (const f of filts) {
      const t = tensors.get(f.name);
      if (t && t.shape.join() !== f.shape.join()) {
        problems.push(`${f.name} has shape [${t.shape}], expected [${f.shape}]`);
      }
      known.add(f.name);
    }
    notes.push('the fixed blur filters (filt buffers) are built in, not imported');
  }
  const extra = [...tensors.keys()].filter((k) => !known.has(k));
  for (const k of extra) {
    const affine = /^model\.\d+\.(weight|bias)$/.test(k) && tensors.get(k)?.shape.length === 1;
    problems.push(
      affine ? `${k} is unexpected (instance norm with affine parameters?)` : `${k} is unexpected`,
    );
  }
  if (problems.length) {
    const more = problems.length > 4 ? ` and ${problems.length - 4} more` : '';
    throw new PthError(
      'not-a-checkpoint',
      `the weights do not fit a ${architecture} generator with ngf ${ngf} and ` +
        `${config.nBlocks} blocks: ${problems.slice(0, 4).join('; ')}${more}`,
    );
  }
  return { architecture, config, tensors: out, notes };
}

/** The dict of tensors inside what torch.load returned (a bare state dict or a wrapper). */
function stateDictOf(root: unknown, notes: string[]): Map<unknown, unknown> {
  if (!(root instanceof Map)) {
    throw fail(`the file holds ${kind(root)}, not a state dict`);
  }
  if (root.has('state') && root.has('param_groups')) {
    throw fail('this is an optimizer state (keys "state" and "param_groups"), not a generator');
  }
  for (const wrapper of ['state_dict', 'model', 'netG', 'G', 'generator']) {
    const inner = root.get(wrapper);
    if (inner instanceof Map) {
      notes.push(`read the state dict under the key "${wrapper}"`);
      return inner;
    }
  }
  const values = [...root.values()];
  if (!values.length) throw fail('the state dict is empty');
  const tensors = values.filter((v) => v instanceof TorchTensor).length;
  if (tensors === 0) {
    throw fail(
      `the file holds a dict of ${describeKeys([...root.keys()].map(String))}, no tensors`,
    );
  }
  return root;
}

function kind(v: unknown): string {
  if (v instanceof TorchTensor) return `a single tensor of shape [${v.shape}]`;
  if (Array.isArray(v)) return 'a list';
  return v === null ? 'None' : `a ${typeof v}`;
}

function describeKeys(keys: string[]): string {
  if (!keys.length) return 'no keys';
  const shown = keys.slice(0, 4).join(', ');
  return `${keys.length} keys: ${shown}${keys.length > 4 ? ', …' : ''}`;
}
