// `--engine` on `patchwork heatmap` and the studio's heatmap job: ONNX Runtime by default
// where it loads (it says so), TF.js when asked, the same best matches either way, and a bad
// engine name is a usage error. Run in-process on a tiny CUT style and a small image.
import sharp from 'sharp';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../../../../main/engine/backend';
import { runHeatmap } from '../../../../main/jobs/heatmap-job';
import { writeImage } from '../../jobs/convert/files';
import { patchwork } from '../../../support/cli-in-process';
import { useTempDir } from '../../../support/temp-dir';
import { saveTinyCutStyle } from '../../../support/tiny-cut-style';

const tmp = useTempDir('patchwork-heatmap-engine-');
let style: string;
let image: string;

beforeAll(async () => {
  style = tmp.path('style');
  image = tmp.path('photo.png');
  await initBackend('wasm');
  await saveTinyCutStyle(style, { seed: 9 });
  await writeImage(image, 3, 48, 32);
});
afterEach(() => {
  process.exitCode = undefined;
  vi.restoreAllMocks();
});

const run = (engine: string[], out: string) =>
  patchwork(
    'heatmap',
    ...['--style', style, '--image', image, '--out', out, '--backend', 'wasm'],
    ...['--point', '30,10', '--tap', 'res1', '--tap', 'input'],
    ...engine,
  );

/** tap → [best x, best y, similarity] from the printed lines. */
function matches(stdout: string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const m of stdout.matchAll(/^(\w+): .* best match (\d+),(\d+) .*similarity (-?[\d.]+)/gm)) {
    out.set(m[1], [Number(m[2]), Number(m[3]), Number(m[4])]);
  }
  return out;
}

describe('heatmap --engine', () => {
  it('runs on ONNX Runtime by default and on TF.js when asked, with the same matches', async () => {
    const ort = await run([], tmp.path('ort.png'));
    expect(ort.code, ort.stderr).toBe(0);
    expect(ort.stderr).toMatch(/^engine: ONNX Runtime \S+, cpu \(\d+ threads\)$/m);
    const tfjs = await run(['--engine', 'tfjs'], tmp.path('tfjs.png'));
    expect(tfjs.code, tfjs.stderr).toBe(0);
    expect(tfjs.stderr).toMatch(/^engine: TF\.js \(asked for\)$/m);
    const [a, b] = [matches(ort.stdout), matches(tfjs.stdout)];
    expect([...a.keys()]).toEqual(['res1', 'input']);
    for (const [tap, [x, y, s]] of a) {
      const [x2, y2, s2] = b.get(tap) as number[];
      expect([x, y]).toEqual([x2, y2]);
      expect(Math.abs(s - s2)).toBeLessThanOrEqual(0.0015); // printed to 3 decimals
    }
    expect((await sharp(tmp.path('ort.png')).metadata()).format).toBe('png');
  });

  it('refuses an unknown engine (exit 2, naming the choices)', async () => {
    const r = await run(['--engine', 'cuda'], tmp.path('bad.png'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--engine.*auto, onnx, tfjs/);
  });

  it('the studio job reports its engine and answers a point on either', async () => {
    const spec = {
      styleDir: style,
      image,
      point: { x: 30, y: 10 },
      tap: 'res1',
      outDir: tmp.path('cache'),
      backend: 'wasm' as const,
    };
    const ort = await runHeatmap(spec);
    const tfjs = await runHeatmap({ ...spec, engine: 'tfjs' });
    expect(ort.engine).toMatch(/^ONNX Runtime /);
    expect(tfjs.engine).toBe('TF.js (asked for)');
    expect([ort.map?.best.x, ort.map?.best.y]).toEqual([tfjs.map?.best.x, tfjs.map?.best.y]);
    expect(
      Math.abs((ort.map?.best.similarity ?? 0) - (tfjs.map?.best.similarity ?? 9)),
    ).toBeLessThan(1e-3);
  });
});
