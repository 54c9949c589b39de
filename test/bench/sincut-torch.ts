/**
 * The `sincut` case's PyTorch side (test/bench/sincut_reference.py): its flags for a setting,
 * its timed steps, and the check that it computes the engine's step (parameters per network,
 * one step's losses from the same weights and draws). See test/bench/README.md.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { SinCutOptions } from '../../shared/options';
import type { ParamSet } from '../../main/engine/model/params';
import { SinCutModel } from '../../main/engine/train/sincut-model';
import {
  sincutTrainStep,
  type SinCutLosses,
  type SinCutSampling,
} from '../../main/engine/train/sincut-step';
import { Fixture } from '../support/fixture';
import { loadReferenceNet } from '../support/reference-sincut-model';
import { loadLine, table } from './machine';
import { benchScript, flagArgs, runPython, type TorchTimes } from './pytorch';
import type { SinCutBenchSetting } from './sincut.bench';

export const TORCH_SCRIPT = 'sincut_reference.py';
type Net = 'G' | 'D' | 'H';
const NETS: Net[] = ['G', 'D', 'H'];
const LOSS_NAMES = ['D_fake', 'D_real', 'D_R1', 'D', 'G_GAN', 'NCE', 'NCE_Y', 'idt', 'G'] as const;
type LossName = (typeof LOSS_NAMES)[number];

/**
 * Largest difference of a loss, relative where the loss exceeds 1, that still counts as the
 * same computation: float32 (TF.js) against float64 (PyTorch), G's losses through D's Adam
 * step, whose first move is lr·sign(g), so a gradient entry at rounding level may step either
 * way. Seen: 2.4e-5 at the reference setting (G_GAN, 5 crops), 1.3e-6 at `tiny`; the script
 * with G's window at the corner instead of drawn: 4.3e-4 at `tiny`.
 */
export const CHECK_TOLERANCE = 1e-4;

interface TorchStep extends TorchTimes {
  /** CPU seconds of each timed step (every thread of the process). */
  cpu_times: number[];
  params: Record<Net, number>;
}

interface TorchCheck {
  torch: string;
  params: Record<Net, number>;
  losses: Partial<Record<LossName, number>>;
}

/** The PyTorch statement's flags for `opts` at `batch` crops: the same configuration. */
export function torchFlags(opts: SinCutOptions, batch = opts.batchSize): string[] {
  return flagArgs({
    crop: opts.cropSize,
    batch,
    ngf: opts.ngf,
    ndf: opts.ndf,
    blocks: opts.nBlocks,
    'd-patch': opts.dPatch,
    taps: opts.nceTaps.join(','),
    patches: opts.numPatches,
    nc: opts.projectionDim,
    'lambda-gan': opts.lambdaGAN,
    'lambda-nce': opts.lambdaNCE,
    'lambda-idt': opts.lambdaIdt,
    'lambda-r1': opts.lambdaR1,
    'nce-idt': opts.nceIdt,
    tau: opts.nceT,
    lr: opts.lr,
    beta1: opts.beta1,
    beta2: opts.beta2,
  });
}

/** Why the PyTorch statement cannot stand for `opts`, or null where it can. */
export function torchUnsupported(opts: SinCutOptions): string | null {
  return opts.netG === 'stylegan2' ? null : `the PyTorch statement has no ${opts.netG} generator`;
}

function paramCount(params: ParamSet): number {
  let n = 0;
  for (const v of params.values()) n += v.size;
  return n;
}

/** Parameters per network of a fresh TF.js model of `opts`. */
export function tfjsParamCounts(opts: SinCutOptions): Record<Net, number> {
  const model = SinCutModel.create(opts);
  try {
    const nets = model.networks();
    return { G: paramCount(nets.G), D: paramCount(nets.D), H: paramCount(nets.H) };
  } finally {
    model.dispose();
  }
}

/** Seconds per timed PyTorch step of `setting` at `threads` threads, with its resources. */
export function torchStepTimes(
  setting: SinCutBenchSetting,
  threads: number,
  warmup: number,
  timed: number,
): Promise<TorchStep> {
  const args = [
    ...torchFlags(setting.opts),
    ...flagArgs({ warmup, steps: timed, threads, seed: setting.opts.seed }),
  ];
  return runPython<TorchStep>(benchScript(TORCH_SCRIPT), args);
}

export interface LossRow {
  name: LossName;
  tfjs: number;
  torch: number;
  /** |tfjs − torch| / max(1, |torch|). */
  diff: number;
}

export interface StepCheck {
  batch: number;
  losses: LossRow[];
  worst: number;
  torchParams: Record<Net, number>;
}

/**
 * One step of each side from the same start: PyTorch draws the weights (every bias and the noise
 * strength non-zero, so every path counts), crops, noise, patch ids and D's windows, writes them
 * in the fixtures' format and computes the step's losses in float64; the TF.js model loads them
 * (torch layouts converted) and runs `sincutTrainStep` on the current backend. D's losses are
 * before its Adam step, G's against the updated D on both sides.
 */
export async function checkAgainstTorch(
  setting: SinCutBenchSetting,
  batch: number,
  threads: number,
): Promise<StepCheck> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'patchwork-sincut-check-'));
  try {
    const stem = path.join(dir, 'step');
    const py = await runPython<TorchCheck>(benchScript(TORCH_SCRIPT), [
      ...torchFlags(setting.opts, batch),
      ...flagArgs({ threads, seed: setting.opts.seed, check: stem }),
    ]);
    const fx = Fixture.fromDir(dir, 'step');
    const ours = await tfjsStepFrom(fx, { ...setting.opts, batchSize: batch });
    const losses: LossRow[] = [];
    for (const name of LOSS_NAMES) {
      const want = py.losses[name];
      const got = ours[name];
      if (want === undefined && (got === null || got === 0)) continue; // off on both sides
      const tfjs = got ?? NaN;
      const torch = want ?? NaN;
      losses.push({
        name,
        tfjs,
        torch,
        diff: Math.abs(tfjs - torch) / Math.max(1, Math.abs(torch)),
      });
    }
    const worst = Math.max(...losses.map((l) => (Number.isNaN(l.diff) ? Infinity : l.diff)));
    return { batch, losses, worst, torchParams: py.params };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The TF.js step from the weights, crops and draws of `fx`; leaves no tensor behind. */
async function tfjsStepFrom(fx: Fixture, opts: SinCutOptions): Promise<SinCutLosses> {
  const model = SinCutModel.create(opts);
  const realA = fx.nhwc('step.real_A');
  const realB = fx.nhwc('step.real_B');
  try {
    const nets = model.networks();
    for (const net of NETS) loadReferenceNet(fx, `${net}.`, nets[net]);
    const noise = fx.raw('step.noise'); // [Bg, 1, H, W]: the same order as [Bg, H, W, 1]
    const values = (await noise.data()) as Float32Array;
    noise.dispose();
    const taps = opts.nceTaps;
    const corner = (k: string): [number, number] => {
      const [y, x] = fx.ids(`step.window.${k}`);
      return [y, x];
    };
    const hasY = taps.every((t) => `step.ids.nceY.${t}` in fx.manifest.ids);
    const s: SinCutSampling = {
      ids: taps.map((t) => fx.ids(`step.ids.nce.${t}`)),
      idsY: hasY ? taps.map((t) => fx.ids(`step.ids.nceY.${t}`)) : null,
      noise: values,
      windows: { fakeD: corner('fake_d'), realD: corner('real_d'), fakeG: corner('fake_g') },
    };
    return await sincutTrainStep(model, realA, realB, s);
  } finally {
    tf.dispose([realA, realB]);
    model.dispose();
  }
}

/** Crops of the check's step: `SINCUT_BENCH_CHECK_BATCH`, default min(5, batch); 0 skips it. */
export function checkBatch(batch: number): number {
  const raw = process.env.SINCUT_BENCH_CHECK_BATCH;
  const n = raw === undefined ? Math.min(5, batch) : Number(raw);
  if (!Number.isInteger(n) || n < 0) {
    throw new Error(`SINCUT_BENCH_CHECK_BATCH must be a whole number of crops, got ${raw}`);
  }
  return n;
}

export function errorText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}

export function processCpuS(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/**
 * Is PyTorch's step the TF.js step? Parameters per network of each setting on both sides, and
 * the losses of one step from the same start (checkAgainstTorch). Prints; a mismatch is shown,
 * not thrown: the timings are still worth reading, beside a warning.
 */
export async function sameComputation(
  settings: SinCutBenchSetting[],
  threads: number,
  torchThreads: number,
): Promise<void> {
  const rows: string[][] = [];
  const lossRows: string[][] = [];
  const verdicts: string[] = [];
  for (const setting of settings) {
    const why = torchUnsupported(setting.opts);
    if (why) {
      verdicts.push(`${setting.key}: not checked: ${why}`);
      continue;
    }
    const ours = tfjsParamCounts(setting.opts);
    const n = checkBatch(setting.opts.batchSize);
    let theirs: Record<Net, number> | null = null;
    try {
      if (n > 0) {
        console.error(`  ${setting.key}: one step from the same weights, ${n} crops, both sides …`);
        const c = await checkAgainstTorch(setting, n, torchThreads);
        theirs = c.torchParams;
        for (const l of c.losses) {
          lossRows.push([
            setting.key,
            l.name,
            l.tfjs.toPrecision(7),
            l.torch.toPrecision(7),
            l.diff.toExponential(1),
          ]);
        }
        verdicts.push(
          `${setting.key}: worst loss difference ${c.worst.toExponential(1)} at ${n} crops ` +
            `(${c.worst <= CHECK_TOLERANCE ? 'agree' : 'DIFFER'}: tolerance ${CHECK_TOLERANCE})`,
        );
      } else {
        const r = await torchStepTimes(setting, torchThreads, 0, 0);
        theirs = r.params;
        verdicts.push(`${setting.key}: losses not compared (SINCUT_BENCH_CHECK_BATCH=0)`);
      }
    } catch (err) {
      verdicts.push(`${setting.key}: check failed: ${errorText(err)}`);
    }
    for (const net of NETS) {
      const t = theirs?.[net];
      rows.push([
        setting.key,
        net,
        String(ours[net]),
        t === undefined ? '–' : String(t),
        t === undefined ? '–' : t === ours[net] ? 'yes' : 'NO',
      ]);
    }
  }
  const plural = threads === 1 ? '' : 's';
  console.log(
    `\nsame computation? (TF.js at ${threads} thread${plural}; PyTorch losses in float64)`,
  );
  console.log(table(['setting', 'network', 'TF.js params', 'PyTorch params', 'equal'], rows));
  if (lossRows.length) {
    console.log(table(['setting', 'loss', 'TF.js', 'PyTorch', 'difference'], lossRows));
  }
  for (const v of verdicts) console.log(v);
  console.log(`load after the check: ${loadLine()}`);
}
