/**
 * A CUT/FastCUT or CycleGAN generator translating on ONNX Runtime, with the contract of the
 * TF.js translators (infer/translate.ts, infer/tiled-generator.ts): reflect-pad to multiples
 * of 4, run, crop back; tiled or not, the same result within float rounding.
 *
 * - Untiled: the whole generator as one graph (export/onnx-export.ts), when its working set
 *   (untiledBytes) fits the memory budget's working bytes and the caller did not ask for tiles.
 * - Tiled: translateTiled's passes, statistics and stored maps, each tile of each pass computed
 *   by that pass's graph (stage-graph.ts) instead of TF.js's layer code.
 *
 * Sessions come from the runtime's cache (runtime.ts), keyed by the generator and the graph;
 * dispose() releases them.
 */
import type { StyleGenerator } from '../model/style-generator';
import { exportOnnx } from '../export/onnx-export';
import { torchStateDict } from '../export/pth-export';
import type { TileJob } from '../infer/tile-evaluator';
import {
  DEFAULT_STORE_POLICY,
  IMAGE,
  IMAGE_CHANNELS,
  indexNodes,
  passOutputs,
  type MapNode,
  type Pass,
} from '../infer/stage-plan';
import { scaleRect, spanLength } from '../infer/tiling';
import {
  readImage,
  translateTiled,
  workingBytes,
  type TiledOptions,
  type TileEngine,
} from '../infer/tiled-generator';
import { MIN_SIDE, type RgbFloatImage } from '../infer/translate';
import {
  GEOMETRY,
  momentsInGraph,
  normFeeds,
  reducesTarget,
  TILE_M2,
  TILE_MEAN,
  stageGeometry,
  stageGraph,
  tileOutput,
  windowInput,
  type TorchWeights,
} from './stage-graph';
import { ORT_TILE_MEMORY, UNTILED_FLOATS_PER_PIXEL_PER_NGF } from './ort-memory';
import {
  ortRuntime,
  type OrtFeeds,
  type OrtProvider,
  type OrtRuntime,
  type OrtSession,
} from './runtime';

export interface OrtTranslatorOptions {
  provider: OrtProvider;
  /** Tile whatever the image's size (the caller set a tile or a budget). */
  alwaysTiled?: boolean;
  runtime?: OrtRuntime;
  /** Called once per distinct reason a session runs on cpu instead of `provider`. */
  onFallback?: (reason: string) => void;
}

type TiledTranslator = (image: RgbFloatImage, opts: TiledOptions) => Promise<RgbFloatImage>;

export interface OrtTranslator {
  /** Untiled when the whole graph fits the budget (and no tiles were asked for), else tiled. */
  translate: TiledTranslator;
  /** Translate tiled, whatever the size (tests, and the tiled-vs-untiled checks). */
  translateTiled: TiledTranslator;
  translateUntiled: (image: RgbFloatImage) => Promise<RgbFloatImage>;
  /** Releases this generator's sessions. */
  dispose(): Promise<void>;
}

/** Side of the image each pass graph first runs on (translateTiled: 2 × 2 tiles of 32). */
export const WARM_SIDE = 64;

/** The untiled graph's working set for an image, in bytes (measured: ort-memory.ts). */
export function untiledBytes(
  G: { config: { ngf: number } },
  width: number,
  height: number,
): number {
  const pixels = ceil4(width) * ceil4(height);
  return 4 * pixels * (UNTILED_FLOATS_PER_PIXEL_PER_NGF * G.config.ngf + 2 * IMAGE_CHANNELS);
}

let generators = 0;
const generatorIds = new WeakMap<StyleGenerator, number>();

function keyOf(G: StyleGenerator): string {
  let id = generatorIds.get(G);
  if (id === undefined) {
    id = ++generators;
    generatorIds.set(G, id);
  }
  return `generator-${id}`;
}

export function ortTranslator(G: StyleGenerator, opts: OrtTranslatorOptions): OrtTranslator {
  const runtime = opts.runtime ?? ortRuntime;
  const prefix = `${keyOf(G)}/`;
  let weights: TorchWeights | null = null;
  const torch = (): TorchWeights => {
    weights ??= new Map(torchStateDict(G).map((e) => [e.name, e]));
    return weights;
  };
  const reported = new Set<string>();
  const session = async (
    graph: string,
    bytes: () => Uint8Array,
    memoryArena = true,
  ): Promise<OrtSession> => {
    const s = await runtime.sessionFor(prefix + graph, bytes, opts.provider, { memoryArena });
    if (s.fallback && !reported.has(s.fallback)) {
      reported.add(s.fallback);
      opts.onFallback?.(s.fallback);
    }
    return s;
  };

  const engine = ortTileEngine(runtime, session, torch);

  const translateUntiled = async (image: RgbFloatImage): Promise<RgbFloatImage> => {
    checkImage(image);
    const s = await session('whole', () => exportOnnx(G));
    const ort = await runtime.require();
    const H = ceil4(image.height);
    const W = ceil4(image.width);
    const padded = readImage(image, { y: { start: 0, end: H }, x: { start: 0, end: W } });
    const input = new ort.Tensor('float32', hwcToChw(padded, H, W, IMAGE_CHANNELS), [1, 3, H, W]);
    const out = (await s.run({ input })).output.data as Float32Array; // [1, 3, H, W]
    return {
      data: chwToHwc(out, H, W, IMAGE_CHANNELS, image.height, image.width),
      width: image.width,
      height: image.height,
    };
  };

  // ONNX Runtime's first run of a graph allocates what its later runs reuse: about 130–160 MiB
  // over the paper G's pass graphs at 17.9 Mpx (test/bench/README.md, `seams`). Each store
  // policy's passes run once on a small image before the first real translation, so that the
  // budget, read from the resident set when it starts, counts that memory as held.
  const warmed = new Set<string>();
  const translateTiledOrt: TiledTranslator = async (image, topts) => {
    const store = topts.store ?? DEFAULT_STORE_POLICY;
    if (!warmed.has(store)) {
      const side = WARM_SIDE;
      const warm = {
        data: new Float32Array(side * side * IMAGE_CHANNELS),
        width: side,
        height: side,
      };
      await translateTiled(G, warm, { tile: side / 2, residentBytes: 0, store }, engine);
      warmed.add(store);
    }
    return translateTiled(G, image, topts, engine);
  };

  return {
    translate: (image, topts) => {
      const tiled =
        opts.alwaysTiled === true ||
        untiledBytes(G, image.width, image.height) > workingBytes(image, topts);
      return tiled ? translateTiledOrt(image, topts) : translateUntiled(image);
    },
    translateTiled: translateTiledOrt,
    translateUntiled,
    dispose: () => runtime.releaseMatching(prefix),
  };
}

/** Sessions of one generator's graphs, by name (cached in the runtime). */
type SessionOf = (
  graph: string,
  bytes: () => Uint8Array,
  memoryArena?: boolean,
) => Promise<OrtSession>;

/** The per-pass graphs as a TileEngine (tiled-generator.ts). */
export function ortTileEngine(
  runtime: OrtRuntime,
  session: SessionOf,
  torch: () => TorchWeights,
): TileEngine {
  // 2N + 6 sessions run in turn: without arenas none keeps its peak between runs.
  const passSession = (nodes: readonly MapNode[], pass: Pass) => {
    const { target, evaluate, read, write } = pass;
    const graph = `pass:${target}:${evaluate.join(',')}<${read.join(',')}>${write.join(',')}`;
    return session(graph, () => stageGraph(nodes, pass, torch()), false);
  };
  return {
    async prepare(nodes, passes) {
      for (const pass of passes) await passSession(nodes, pass);
    },
    async evaluate(job) {
      const s = await passSession(job.nodes, job.pass);
      const ort = await runtime.require();
      const result = await s.run(await tileFeeds(job, s.inputNames, ort.Tensor));
      const reduced = reducesTarget(job.nodes, job.pass);
      const maps = passOutputs(job.pass).map((id) =>
        reduced && id === job.pass.target ? null : (result[tileOutput(id)].data as Float32Array),
      );
      if (!momentsInGraph(job.nodes, job.pass)) return { maps };
      const scale = indexNodes(job.nodes)(job.pass.target).scale;
      const rect = scaleRect(job.tile, scale);
      const count = spanLength(rect.y) * spanLength(rect.x);
      const mean = result[TILE_MEAN].data as Float32Array;
      const m2 = result[TILE_M2].data as Float32Array;
      return { maps, targetMoments: { count, mean, m2 } };
    },
    maxTensorBytes: () => Number.POSITIVE_INFINITY,
    memory: ORT_TILE_MEMORY,
  };
}

type TensorCtor = typeof import('onnxruntime-node').Tensor;

async function tileFeeds(
  job: TileJob,
  names: readonly string[],
  Tensor: TensorCtor,
): Promise<OrtFeeds> {
  const byId = indexNodes(job.nodes);
  const norms = normFeeds(job.pass, job.nodes, job.norms);
  const feeds: OrtFeeds = {};
  for (const name of names) {
    if (name === GEOMETRY) {
      const g = stageGeometry(job.nodes, job.pass, job.tile, job.windows, job.size);
      feeds[name] = new Tensor('float32', g, [g.length]);
      continue;
    }
    const stat = norms.get(name);
    if (stat) {
      feeds[name] = new Tensor('float32', stat, [1, stat.length, 1, 1]);
      continue;
    }
    const id = [IMAGE, ...job.pass.read].find((m) => windowInput(m) === name);
    const data = id === undefined ? undefined : job.inputs.get(id);
    const rect = id === undefined ? undefined : job.windows.get(id);
    if (id === undefined || !data || !rect) throw new Error(`no value for graph input ${name}`);
    const c = id === IMAGE ? IMAGE_CHANNELS : byId(id).channels;
    feeds[name] = new Tensor('float32', data, [1, spanLength(rect.y), spanLength(rect.x), c]);
  }
  return feeds;
}

function checkImage(image: RgbFloatImage): void {
  const { width, height, data } = image;
  if (width < MIN_SIDE || height < MIN_SIDE) {
    throw new RangeError(`image is ${width}×${height}; at least ${MIN_SIDE}×${MIN_SIDE} is needed`);
  }
  if (data.length !== width * height * IMAGE_CHANNELS) {
    throw new RangeError(
      `expected ${width * height * 3} values for ${width}×${height} RGB, got ${data.length}`,
    );
  }
}

/** [H, W, C] → [C, H, W]. */
function hwcToChw(x: Float32Array, H: number, W: number, C: number): Float32Array {
  const out = new Float32Array(x.length);
  const plane = H * W;
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < C; c++) out[c * plane + i] = x[i * C + c];
  }
  return out;
}

/** [C, H, W] → [h, w, C], keeping the top-left h×w. */
function chwToHwc(
  x: Float32Array,
  H: number,
  W: number,
  C: number,
  h: number,
  w: number,
): Float32Array {
  const out = new Float32Array(h * w * C);
  const plane = H * W;
  for (let y = 0; y < h; y++) {
    for (let xx = 0; xx < w; xx++) {
      const o = (y * w + xx) * C;
      for (let c = 0; c < C; c++) out[o + c] = x[c * plane + y * W + xx];
    }
  }
  return out;
}

function ceil4(n: number): number {
  return Math.ceil(n / 4) * 4;
}
