/**
 * The generator (model/generator.ts, reference ResnetGenerator) cut into stages for exact tiled
 * inference (DESIGN.md, "High resolution without seams"). Each map below is the pre-norm output
 * of a chain of local ops; every instance norm becomes a boundary, because it needs whole-image
 * statistics. One pass over the tile grid per normalised map gathers its per-channel moments;
 * a last pass writes the output image. 2N + 6 passes for N residual blocks.
 *
 *   stem   image → pad3 conv7                                   [H, W, ngf]       IN
 *   down1  ReLU(IN(stem)) → conv3                               [H, W, 2ngf]      IN
 *   down2  ReLU(IN(down1)) → blur-down → conv3                  [H/2, W/2, 4ngf]  IN
 *   res0   ReLU(IN(down2)) → blur-down                          [H/4, W/4, 4ngf]
 *   blockK.conv1  res(K−1) → pad1 conv3                         [H/4, W/4, 4ngf]  IN
 *   blockK.conv2  ReLU(IN(conv1)) → pad1 conv3                  [H/4, W/4, 4ngf]  IN
 *   resK   res(K−1) + IN(blockK.conv2)                          [H/4, W/4, 4ngf]
 *   up1    resN → upsample → conv3                              [H/2, W/2, 2ngf]  IN
 *   up2    ReLU(IN(up1)) → upsample → conv3                     [H, W, ngf]       IN
 *   out    ReLU(IN(up2)) → pad3 conv7 → tanh                    [H, W, 3]
 *
 * Store or recompute. A map is either stored (written once, tile by tile, into the feature
 * store, and read back with halos) or recomputed inside every pass that needs it, from the
 * nearest stored maps or the image. Policies (StorePolicy):
 * - `'quarter'` stores the quarter-resolution maps only: the deep part (18 of the 24 convs at
 *   N = 9) and the smallest per image pixel (ngf/4 floats). Each encoder pass recomputes
 *   stem → down1 → down2 and each decoder pass up1 → up2: at ngf 64 and 9 blocks, 48% more
 *   convolution work than one untiled forward (stem 3, down1 2, down2 1, up1 2, up2 1 extra
 *   times).
 * - `'half'` (the default) stores the half-resolution maps too (down2 and up1 here: ngf and
 *   ngf/2 floats per image pixel; CycleGAN's down1 and up1). The pass that starts the residual
 *   stream then reads down2 instead of recomputing the encoder, and the decoder passes read up1:
 *   17% more convolution work than untiled instead of 48% (stem 2, down1 1, up2 1 extra times),
 *   for 1.5 ngf floats per image pixel more written and read once or twice. Measured with
 *   ONNX Runtime, paper G at 1 Mpx: 27 s → 22 s. Neither stores a full-resolution map.
 * - `'all'` stores every map (written once each, up to 2ngf floats per image pixel).
 */
import { cycleganLayerNames } from '../model/cyclegan-generator';
import type { StyleGenerator } from '../model/style-generator';
import { generatorLayerNames, ResnetGenerator, type GeneratorConfig } from '../model/generator';
import {
  backChain,
  channelsAfter,
  haloFloorTile,
  largestTile,
  rectArea,
  scaleRect,
  TILE_STEP,
  unionRect,
  type LocalOp,
  type MapSize,
  type Rect,
} from './tiling';

/** Where a stage's chain starts, and what is applied to it pointwise first. */
export type Source =
  | { kind: 'image' } // the reflect-padded input image
  | { kind: 'map'; of: string } // a map as it is (the residual stream)
  | { kind: 'normRelu'; of: string } // ReLU(IN(map)) with whole-image statistics
  | { kind: 'residual'; skip: string; branch: string }; // skip + IN(branch)

export interface MapNode {
  id: string;
  /** Resolution divisor: 1 full, 2 half, 4 quarter. */
  scale: 1 | 2 | 4;
  channels: number;
  source: Source;
  ops: LocalOp[];
  /** Followed by an instance norm, so it gets a statistics pass of its own. */
  normalised: boolean;
}

/** The id of the input image among a pass's windows. */
export const IMAGE = '(image)';
/** The id of the final map, which goes to the output image rather than the store. */
export const OUTPUT = 'out';

export const IMAGE_CHANNELS = 3;

export function generatorStages(cfg: GeneratorConfig): MapNode[] {
  const { ngf, nBlocks } = cfg;
  const n = generatorLayerNames(nBlocks);
  const conv = (layer: string, size: number, pad: 'reflect' | 'zero', outChannels: number) =>
    ({ kind: 'conv', layer, size, pad, outChannels }) as const;
  const blurDown = { kind: 'blurDown' } as const;
  const upsample = { kind: 'upsample' } as const;
  const norm = (of: string) => ({ kind: 'normRelu', of }) as const;

  const nodes: MapNode[] = [
    stage('stem', 1, ngf, { kind: 'image' }, [conv(n.stem, 7, 'reflect', ngf)], true),
    stage('down1', 1, 2 * ngf, norm('stem'), [conv(n.down1, 3, 'zero', 2 * ngf)], true),
    stage('down2', 2, 4 * ngf, norm('down1'), [blurDown, conv(n.down2, 3, 'zero', 4 * ngf)], true),
    stage('res0', 4, 4 * ngf, norm('down2'), [blurDown], false),
    ...residualStages(4 * ngf, nBlocks, n.block),
  ];
  const last = { kind: 'map', of: `res${nBlocks}` } as const;
  const outChannels = cfg.outputChannels ?? IMAGE_CHANNELS;
  nodes.push(
    stage('up1', 2, 2 * ngf, last, [upsample, conv(n.up1, 3, 'zero', 2 * ngf)], true),
    stage('up2', 1, ngf, norm('up1'), [upsample, conv(n.up2, 3, 'zero', ngf)], true),
    stage(
      OUTPUT,
      1,
      outChannels,
      norm('up2'),
      [conv(n.head, 7, 'reflect', outChannels), { kind: 'tanh' }],
      false,
    ),
  );
  return nodes;
}

/**
 * CycleGAN's generator (cyclegan-generator.ts) in the same stages: its stride-2 conv and
 * transposed conv take the places of blur-down + conv and upsample + conv, and the residual
 * stream starts at ReLU(IN(down2)) itself.
 *
 *   stem   image → pad3 conv7                                   [H, W, ngf]       IN
 *   down1  ReLU(IN(stem)) → conv3/2                             [H/2, W/2, 2ngf]  IN
 *   down2  ReLU(IN(down1)) → conv3/2                            [H/4, W/4, 4ngf]  IN
 *   res0   ReLU(IN(down2))                                      [H/4, W/4, 4ngf]
 *   blockK …, resK                                              as above
 *   up1    resN → convT3/2                                      [H/2, W/2, 2ngf]  IN
 *   up2    ReLU(IN(up1)) → convT3/2                             [H, W, ngf]       IN
 *   out    ReLU(IN(up2)) → pad3 conv7 → tanh                    [H, W, 3]
 */
export function cycleganStages(cfg: GeneratorConfig): MapNode[] {
  const { ngf, nBlocks } = cfg;
  const n = cycleganLayerNames(nBlocks);
  const norm = (of: string) => ({ kind: 'normRelu', of }) as const;
  const outChannels = cfg.outputChannels ?? IMAGE_CHANNELS;
  const stem = { kind: 'conv', layer: n.stem, size: 7, pad: 'reflect', outChannels: ngf } as const;
  const head = { kind: 'conv', layer: n.head, size: 7, pad: 'reflect', outChannels } as const;
  const down = (layer: string, c: number) => ({ kind: 'convDown', layer, outChannels: c }) as const;
  const up = (layer: string, c: number) => ({ kind: 'convUp', layer, outChannels: c }) as const;
  return [
    stage('stem', 1, ngf, { kind: 'image' }, [stem], true),
    stage('down1', 2, 2 * ngf, norm('stem'), [down(n.down1, 2 * ngf)], true),
    stage('down2', 4, 4 * ngf, norm('down1'), [down(n.down2, 4 * ngf)], true),
    stage('res0', 4, 4 * ngf, norm('down2'), [], false),
    ...residualStages(4 * ngf, nBlocks, n.block),
    stage('up1', 2, 2 * ngf, { kind: 'map', of: `res${nBlocks}` }, [up(n.up1, 2 * ngf)], true),
    stage('up2', 1, ngf, norm('up1'), [up(n.up2, ngf)], true),
    stage(OUTPUT, 1, outChannels, norm('up2'), [head, { kind: 'tanh' }], false),
  ];
}

/** The stages of either architecture's generator. */
export function stagesOf(G: StyleGenerator): MapNode[] {
  return G instanceof ResnetGenerator ? generatorStages(G.config) : cycleganStages(G.config);
}

/** N residual blocks at quarter resolution: conv1 (IN), conv2 (IN), resK = res(K−1) + IN(conv2). */
function residualStages(c: number, nBlocks: number, block: (i: number) => string): MapNode[] {
  const nodes: MapNode[] = [];
  for (let k = 1; k <= nBlocks; k++) {
    const name = block(k - 1);
    const conv = (layer: string) =>
      ({ kind: 'conv', layer, size: 3, pad: 'reflect', outChannels: c }) as const;
    const prev = { kind: 'map', of: `res${k - 1}` } as const;
    nodes.push(stage(`block${k}.conv1`, 4, c, prev, [conv(`${name}.1`)], true));
    const norm1 = { kind: 'normRelu', of: `block${k}.conv1` } as const;
    nodes.push(stage(`block${k}.conv2`, 4, c, norm1, [conv(`${name}.5`)], true));
    const sum = { kind: 'residual', skip: `res${k - 1}`, branch: `block${k}.conv2` } as const;
    nodes.push(stage(`res${k}`, 4, c, sum, [], false));
  }
  return nodes;
}

function stage(
  id: string,
  scale: 1 | 2 | 4,
  channels: number,
  source: Source,
  ops: LocalOp[],
  normalised: boolean,
): MapNode {
  return { id, scale, channels, source, ops, normalised };
}

/** The maps a stage's source reads (the image is not a map). */
export function sourceMaps(source: Source): string[] {
  if (source.kind === 'image') return [];
  if (source.kind === 'residual') return [source.skip, source.branch];
  return [source.of];
}

export type StorePolicy = 'quarter' | 'half' | 'all';

/** What translateTiled stores unless told otherwise. */
export const DEFAULT_STORE_POLICY: StorePolicy = 'half';

export function storesMap(policy: StorePolicy, node: MapNode): boolean {
  if (node.id === OUTPUT) return false;
  if (policy === 'all') return true;
  return policy === 'half' ? node.scale >= 2 : node.scale === 4;
}

/** One sweep over the tile grid. */
export interface Pass {
  /** The normalised map whose statistics this pass gathers, or OUTPUT for the last pass. */
  target: string;
  /** Maps computed per tile, inputs first. */
  evaluate: string[];
  /** Stored maps first computed here, written tile by tile. */
  write: string[];
  /** Stored maps read (with halos) from the store. */
  read: string[];
  /** Stored maps nobody reads after this pass. */
  free: string[];
}

export function schedulePasses(nodes: readonly MapNode[], policy: StorePolicy): Pass[] {
  const byId = indexNodes(nodes);
  const materialised = new Set<string>();
  const passes: Pass[] = [];
  for (const target of nodes.filter((n) => n.normalised || n.id === OUTPUT)) {
    const evaluate: string[] = [];
    const read = new Set<string>();
    const visit = (id: string): void => {
      if (materialised.has(id)) read.add(id);
      else if (!evaluate.includes(id)) {
        sourceMaps(byId(id).source).forEach(visit);
        evaluate.push(id); // post-order: inputs first
      }
    };
    visit(target.id);
    const write = evaluate.filter((id) => storesMap(policy, byId(id)));
    write.forEach((id) => materialised.add(id));
    passes.push({ target: target.id, evaluate, write, read: [...read], free: [] });
  }
  const lastUse = new Map<string, number>();
  passes.forEach((p, i) => [...p.write, ...p.read].forEach((id) => lastUse.set(id, i)));
  for (const [id, i] of lastUse) passes[i].free.push(id);
  return passes;
}

export function indexNodes(nodes: readonly MapNode[]): (id: string) => MapNode {
  const map = new Map(nodes.map((n) => [n.id, n]));
  return (id) => {
    const node = map.get(id);
    if (!node) throw new Error(`unknown stage map ${id}`);
    return node;
  };
}

/**
 * The window of every map a pass touches for one full-resolution tile: outputs cover the tile,
 * and each map covers what its consumers' chains need (their halos), clipped to the map.
 * Keys are map ids and IMAGE; rects are in each map's own resolution.
 */
export function passWindows(
  nodes: readonly MapNode[],
  pass: Pass,
  tile: Rect,
  size: MapSize,
): Map<string, Rect> {
  const byId = indexNodes(nodes);
  const windows = new Map<string, Rect>();
  for (const id of passOutputs(pass)) windows.set(id, scaleRect(tile, byId(id).scale));
  for (const id of [...pass.evaluate].reverse()) {
    const node = byId(id);
    const own = windows.get(id);
    if (!own) throw new Error(`stage map ${id} is evaluated but nothing needs it`);
    const input = backChain(node.ops, own, node.scale, size).rects[0];
    const deps = node.source.kind === 'image' ? [IMAGE] : sourceMaps(node.source);
    for (const dep of deps) windows.set(dep, unionRect(windows.get(dep), input));
  }
  return windows;
}

/** Maps whose tile a pass hands back: what it writes, then its target. */
export function passOutputs(pass: Pass): string[] {
  return pass.write.includes(pass.target) ? pass.write : [...pass.write, pass.target];
}

/** Channels at the start of a stage's chain. */
export function sourceChannels(nodes: readonly MapNode[], source: Source): number {
  if (source.kind === 'image') return IMAGE_CHANNELS;
  return indexNodes(nodes)(source.kind === 'residual' ? source.skip : source.of).channels;
}

/**
 * How much an engine holds while it computes one step of a tile, in units of the step's larger
 * side (input or output elements); `source` for the crop, norm and ReLU of a stage's source.
 * Engines differ: TF.js's layer code keeps its temporaries until a layer returns, ONNX Runtime
 * frees each intermediate as soon as its last reader has run (onnx/ort-memory.ts).
 */
export interface TileMemoryModel {
  ops: Record<LocalOp['kind'], number>;
  source: number;
}

/**
 * An upper estimate of the tensor bytes one tile of a pass holds: all of its windows at once,
 * plus the largest single step with its temporaries (`model`, TF.js's by default).
 */
export function passTileBytes(
  nodes: readonly MapNode[],
  pass: Pass,
  tile: Rect,
  size: MapSize,
  model: TileMemoryModel = TFJS_TILE_MEMORY,
): number {
  const byId = indexNodes(nodes);
  const windows = passWindows(nodes, pass, tile, size);
  let held = 0;
  for (const [id, rect] of windows) {
    held += rectArea(rect) * (id === IMAGE ? IMAGE_CHANNELS : byId(id).channels);
  }
  let peak = 0;
  for (const id of pass.evaluate) {
    const node = byId(id);
    const chain = backChain(node.ops, windows.get(id) as Rect, node.scale, size);
    let channels = sourceChannels(nodes, node.source);
    peak = Math.max(peak, model.source * rectArea(chain.rects[0]) * channels);
    node.ops.forEach((op, i) => {
      const inElems = rectArea(chain.rects[i]) * channels;
      channels = channelsAfter(op, channels);
      const outElems = rectArea(chain.rects[i + 1]) * channels;
      peak = Math.max(peak, inElems + model.ops[op.kind] * Math.max(inElems, outElems));
    });
  }
  return 4 * (held + peak);
}

/**
 * Tensors alive during one step, in units of its larger side. Calibrated against tf.profile
 * peaks on wasm (ngf 64, tile 160: no pass above it, the four largest 0.3–8% below): the layer code
 * of the resamplers keeps all its slices, pads and products until it returns.
 */
const OP_TEMPORARIES: Record<LocalOp['kind'], number> = {
  conv: 3,
  // Not profiled: a padded copy and the conv (down); the full (2h+1)×(2w+1) transposed
  // output, its crop and the bias sum (up), rated like the resamplers' layer code.
  convDown: 4,
  convUp: 6,
  blurDown: 10,
  upsample: 12,
  tanh: 2,
};
/** Crop, subtract, multiply and ReLU of a normalised source. */
const SOURCE_TEMPORARIES = 4;

/** TF.js's layer code (tile-evaluator.ts) on any backend. */
export const TFJS_TILE_MEMORY: TileMemoryModel = {
  ops: OP_TEMPORARIES,
  source: SOURCE_TEMPORARIES,
};

/**
 * The largest single tensor of any pass for a tile placed mid-image, in bytes: what one GPU
 * buffer must hold (the webgpu backend binds every tensor whole, within the adapter's
 * maxBufferSize and maxStorageBufferBindingSize).
 */
export function largestTensorBytes(
  nodes: readonly MapNode[],
  passes: readonly Pass[],
  tile: number,
  size: MapSize,
): number {
  const byId = indexNodes(nodes);
  const start = (n: number) => Math.max(0, Math.floor((n - tile) / 2 / TILE_STEP) * TILE_STEP);
  const rect = {
    y: { start: start(size.height), end: Math.min(size.height, start(size.height) + tile) },
    x: { start: start(size.width), end: Math.min(size.width, start(size.width) + tile) },
  };
  let largest = 0;
  for (const pass of passes) {
    const windows = passWindows(nodes, pass, rect, size);
    for (const [id, r] of windows) {
      largest = Math.max(
        largest,
        rectArea(r) * (id === IMAGE ? IMAGE_CHANNELS : byId(id).channels),
      );
    }
    for (const id of pass.evaluate) {
      const node = byId(id);
      const chain = backChain(node.ops, windows.get(id) as Rect, node.scale, size);
      let channels = sourceChannels(nodes, node.source);
      largest = Math.max(largest, rectArea(chain.rects[0]) * channels);
      node.ops.forEach((op, i) => {
        channels = channelsAfter(op, channels);
        largest = Math.max(largest, rectArea(chain.rects[i + 1]) * channels);
      });
    }
  }
  return 4 * largest;
}

/** The largest passTileBytes over all passes, for a tile placed mid-image (full halos). */
export function tileBytes(
  nodes: readonly MapNode[],
  passes: readonly Pass[],
  tile: number,
  size: MapSize,
  model: TileMemoryModel = TFJS_TILE_MEMORY,
): number {
  const mid = (n: number) => {
    const start = Math.max(0, Math.floor((n - tile) / 2 / TILE_STEP) * TILE_STEP);
    return { start, end: Math.min(n, start + tile) };
  };
  const rect = { y: mid(size.height), x: mid(size.width) };
  return Math.max(...passes.map((p) => passTileBytes(nodes, p, rect, size, model)));
}

/**
 * The largest tile (a multiple of 4, at most the image) whose working set (by the engine's
 * `model`) stays within `bytes` and whose largest tensor within `maxTensorBytes` (a GPU's
 * buffer limit); if none does, the smallest tile worth running (minTile: its core at least the
 * widest halo).
 */
export function chooseTile(
  nodes: readonly MapNode[],
  passes: readonly Pass[],
  size: MapSize,
  bytes: number,
  maxTensorBytes = Infinity,
  model: TileMemoryModel = TFJS_TILE_MEMORY,
): number {
  const fits = (t: number) =>
    tileBytes(nodes, passes, t, size, model) <= bytes &&
    (maxTensorBytes === Infinity || largestTensorBytes(nodes, passes, t, size) <= maxTensorBytes);
  return largestTile(Math.max(size.height, size.width), fits, minTile(nodes, passes, size));
}

/**
 * The widest halo of any pass, in full-resolution pixels: how far beyond a tile's core some
 * map of some pass reaches (16 px for CUT's generator: the first residual pass recomputes the
 * encoder from the image).
 */
export function fullResHalo(nodes: readonly MapNode[], passes: readonly Pass[]): number {
  const byId = indexNodes(nodes);
  let widest = 0;
  for (const pass of passes) {
    for (const [id, halo] of passHalos(nodes, pass, 16 * TILE_STEP)) {
      widest = Math.max(widest, halo * (id === IMAGE ? 1 : byId(id).scale));
    }
  }
  return widest;
}

/** The smallest tile worth running on an image of `size` (tiling.ts haloFloorTile). */
export function minTile(nodes: readonly MapNode[], passes: readonly Pass[], size: MapSize): number {
  return haloFloorTile(fullResHalo(nodes, passes), Math.max(size.height, size.width));
}

/**
 * Halo of every map of a pass around an interior tile: the widest side, in that map's pixels
 * (blur-down's window is lopsided: two rows before, none after).
 */
export function passHalos(
  nodes: readonly MapNode[],
  pass: Pass,
  tile: number,
): Map<string, number> {
  const scale = (id: string) => (id === IMAGE ? 1 : indexNodes(nodes)(id).scale);
  const big = 64 * tile + 1024;
  const size = { height: big, width: big };
  const start = Math.floor(big / 2 / TILE_STEP) * TILE_STEP;
  const rect = { y: { start, end: start + tile }, x: { start, end: start + tile } };
  const halos = new Map<string, number>();
  for (const [id, r] of passWindows(nodes, pass, rect, size)) {
    const s = scale(id);
    halos.set(id, Math.max(start / s - r.y.start, r.y.end - (start + tile) / s));
  }
  return halos;
}
