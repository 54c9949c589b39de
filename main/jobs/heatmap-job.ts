/**
 * Correspondence heatmaps for the studio (the engine's HeatmapSession, as `patchwork heatmap`
 * uses it), inside an engine process the studio keeps for them. Opening a style and an image
 * translates the image once at the working resolution and writes the input and its
 * translation as PNGs for the page; each query (a point on the output, one tap) writes the
 * similarity map blended over the input. The session stays in this process between requests,
 * so clicking around an image costs a dot product per position, not a translation. CUT and
 * SinCUT styles alike (openHeatmapStyle, shared with `patchwork heatmap`). The translation and
 * the feature pass run on ONNX Runtime unless the spec's engine says tfjs (auto: when it loads).
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import type { HeatmapJobResult, HeatmapJobSpec } from '../../shared/ipc-worker';
import type { NceTap } from '../../shared/options';
import { initBackend } from '../engine/backend';
import { HeatmapSession, readHeatmapImage } from '../engine/infer/heatmap';
import { OnnxHeatmapEngine, type HeatmapEngineReport } from '../engine/infer/heatmap-onnx';
import { overlay, renderGrid } from '../engine/infer/heatmap-render';
import { openHeatmapStyle, type OpenedHeatmapStyle } from '../engine/style/open-heatmap';
import type { RgbFloatImage } from '../engine/infer/translate';
import { writeFileAtomic, writeThroughTemp } from '../files/atomic-file';
import { CACHE_FILE_MODE, CACHE_FOLDER_MODE } from '../services/cache-folder';
import { styleJsonPath } from '../style/style-folder';

interface Open {
  key: string;
  name: string;
  style: OpenedHeatmapStyle;
  session: HeatmapSession;
  input: string;
  output: string;
  /** The input's pixels at the working size, the base the maps are blended over. */
  base: Uint8Array;
  engine: HeatmapEngineReport;
}

let open: Open | null = null;
/** The engine for each `--engine` choice, resolved once per process. */
const engines = new Map<string, ReturnType<typeof OnnxHeatmapEngine.open>>();

function engineFor(choice: HeatmapJobSpec['engine']) {
  const c = choice ?? 'auto';
  let e = engines.get(c);
  if (!e) {
    e = OnnxHeatmapEngine.open(c);
    engines.set(c, e);
    e.catch(() => engines.delete(c));
  }
  return e;
}

export async function runHeatmap(spec: HeatmapJobSpec): Promise<HeatmapJobResult> {
  await initBackend(spec.backend);
  const session = await sessionFor(spec);
  const { session: s } = session;
  const info = s.info;
  const result: HeatmapJobResult = {
    input: session.input,
    output: session.output,
    width: info.width,
    height: info.height,
    workingWidth: info.workingWidth,
    workingHeight: info.workingHeight,
    taps: info.taps,
    mode: info.mode,
    engine: session.engine.detail,
  };
  const tap = (spec.tap ?? info.taps[info.taps.length - 1]) as NceTap;
  if (spec.grid || spec.point) await s.load([tap]);
  const opacity = spec.opacity ?? 0.65;
  if (spec.grid) {
    const png = await renderGrid(s, { n: spec.grid, on: 'output', taps: [tap], opacity });
    const file = path.join(
      spec.outDir,
      `${session.name}-grid${spec.grid}-${tap}-${Math.round(opacity * 100)}.png`,
    );
    await writeFileAtomic(file, png, { mode: CACHE_FILE_MODE });
    return { ...result, grid: { n: spec.grid, tap, file } };
  }
  if (!spec.point) return result;
  const [map] = s.query(spec.point, { on: 'output', taps: [tap] });
  const size = { width: info.workingWidth, height: info.workingHeight };
  const pixels = overlay(session.base, size, s, map, map.min, map.max, opacity);
  const at = `${Math.round(map.query.x)}-${Math.round(map.query.y)}`;
  const file = path.join(
    spec.outDir,
    `${session.name}-${tap}-${at}-${Math.round(opacity * 100)}.png`,
  );
  await writePng(file, pixels, size.width, size.height);
  return {
    ...result,
    map: {
      tap,
      file,
      min: map.min,
      max: map.max,
      query: { x: map.query.x, y: map.query.y },
      best: { x: map.best.x, y: map.best.y, similarity: map.best.similarity },
    },
  };
}

/** The open session for this style and image (the file's version included), or a new one. */
async function sessionFor(spec: HeatmapJobSpec): Promise<Open> {
  const [styleStat, imageStat] = await Promise.all([
    fs.stat(styleJsonPath(spec.styleDir)),
    fs.stat(spec.image),
  ]);
  const key = [
    spec.styleDir,
    styleStat.mtimeMs,
    spec.image,
    imageStat.mtimeMs,
    imageStat.size,
    spec.engine ?? 'auto',
  ]
    .map(String)
    .join('\0');
  if (open?.key === key) return open;
  if (open) open.style.dispose();
  open = null;
  const { engine: onnx, report: engine } = await engineFor(spec.engine);
  const style = await openHeatmapStyle(spec.styleDir);
  try {
    const image = await readHeatmapImage(spec.image);
    // Styles without a projection head (older or imported ones) use raw encoder features.
    const session = await HeatmapSession.create(style, image, { raw: style.head === null, onnx });
    const name = createHash('sha256').update(key).digest('hex').slice(0, 16);
    // The studio made it private already (cache-folder.ts); a fresh one is made so too.
    await fs.mkdir(spec.outDir, { recursive: true, mode: CACHE_FOLDER_MODE });
    const input = path.join(spec.outDir, `${name}-input.png`);
    const output = path.join(spec.outDir, `${name}-output.png`);
    const base = toBytes(session.input);
    await writePng(input, base, session.input.width, session.input.height);
    await writePng(output, toBytes(session.output), session.output.width, session.output.height);
    open = { key, name, style, session, input, output, base, engine };
    return open;
  } catch (err) {
    style.dispose();
    throw err;
  }
}

/** [−1, 1] floats, HWC → 8-bit RGB. */
function toBytes(image: RgbFloatImage): Uint8Array {
  const out = new Uint8Array(image.data.length);
  for (let i = 0; i < out.length; i++) {
    out[i] = Math.max(0, Math.min(255, Math.round((image.data[i] + 1) * 127.5)));
  }
  return out;
}

/** A picture of the heatmap cache: 0600, and a link planted at `file` is replaced, not followed. */
async function writePng(file: string, pixels: Uint8Array, width: number, height: number) {
  await writeThroughTemp(
    file,
    (temp) =>
      sharp(Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength), {
        raw: { width, height, channels: 3 },
      })
        .png()
        .toFile(temp),
    { mode: CACHE_FILE_MODE },
  );
}
