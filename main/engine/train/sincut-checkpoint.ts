/**
 * SinCUT's checkpoints: D, every Adam state and the sampling stream's state beside G and H,
 * so a resumed run continues where it stopped. Tensors are stored as a style's are
 * (engine/style/weights-index.ts).
 */
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { validateSinCutOptions, type SinCutOptions } from '../../../shared/options';
import type { ParamSet } from '../model/params';
import type { RngState } from '../rng';
import { assignParams, jsonText, readTensors, writeTensors } from '../style/weights-index';
import { readJson, replaceDir } from '../tensor-file';
import { SinCutModel } from './sincut-model';

export interface SinCutState {
  format: 'patchwork-sincut-checkpoint-1';
  options: SinCutOptions;
  iteration: number;
  epoch: number;
  rng: RngState;
  adamSteps: { G: number; D: number; H: number };
  elapsedSeconds: number;
  losses: Record<string, number | null> | null;
}

/** Writes `dir` (replacing it atomically): every weight, every Adam moment, the state. */
export async function saveSinCutCheckpoint(
  dir: string,
  model: SinCutModel,
  state: Omit<SinCutState, 'format' | 'options' | 'adamSteps'>,
): Promise<void> {
  const final = path.resolve(dir);
  const temp = path.join(path.dirname(final), `.${path.basename(final)}.${randomUUID()}.tmp`);
  await fs.mkdir(temp, { recursive: true });
  const all: ParamSet = new Map();
  const nets = model.networks();
  const opts = { G: model.optG, D: model.optD, H: model.optH };
  for (const net of ['G', 'D', 'H'] as const) {
    for (const [n, v] of nets[net]) all.set(`${net}.${n}`, v);
    for (const [n, v] of opts[net].m) all.set(`${net}.adam_m.${n}`, v);
    for (const [n, v] of opts[net].v) all.set(`${net}.adam_v.${n}`, v);
  }
  try {
    await writeTensors(temp, 'weights', 'sincut-checkpoint', all);
    const full: SinCutState = {
      format: 'patchwork-sincut-checkpoint-1',
      options: model.opts,
      adamSteps: { G: model.optG.step, D: model.optD.step, H: model.optH.step },
      ...state,
    };
    await fs.writeFile(path.join(temp, 'state.json'), jsonText(full));
    await replaceDir(temp, final);
  } catch (err) {
    await fs.rm(temp, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
}

/** A model and state from a checkpoint folder; null when there is none. */
export async function loadSinCutCheckpoint(
  dir: string,
): Promise<{ model: SinCutModel; state: SinCutState } | null> {
  const root = path.resolve(dir);
  let text: string;
  try {
    text = await fs.readFile(path.join(root, 'state.json'), 'utf8');
  } catch {
    return null;
  }
  const state = readJson(text, 'state.json') as SinCutState;
  const opts = validateSinCutOptions(state.options);
  const stored = await readTensors(root, 'weights');
  const model = SinCutModel.create(opts);
  try {
    const sub = (prefix: string) =>
      new Map(
        [...stored]
          .filter(([n]) => n.startsWith(prefix))
          .map(([n, v]) => [n.slice(prefix.length), v]),
      );
    const nets = model.networks();
    const adams = { G: model.optG, D: model.optD, H: model.optH };
    for (const net of ['G', 'D', 'H'] as const) {
      assignParams(nets[net], sub(`${net}.`), `checkpoint ${net}`);
      assignParams(adams[net].m, sub(`${net}.adam_m.`), `checkpoint ${net} Adam`);
      assignParams(adams[net].v, sub(`${net}.adam_v.`), `checkpoint ${net} Adam`);
      adams[net].step = state.adamSteps[net];
    }
  } catch (err) {
    model.dispose();
    throw err;
  }
  return { model, state: { ...state, options: opts } };
}
