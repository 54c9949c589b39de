/**
 * Benchmark entry point:
 * `npm run bench -- <case> [--backend NAME] [--threads 1,N] [--quick] [--profile]`
 * (`step` also takes `--config NAMES`).
 * With no case it lists them. A case is a module exporting `{ summary, run(args) }`; adding one
 * is an import and a line in CASES. See test/bench/README.md for what each case measures.
 */
import { stepCase } from './step.bench';
import { convertCase } from './convert.bench';
import { trainCase } from './train.bench';
import { knownAnswerCase } from './known-answer.bench';
import { heatmapCase } from './heatmap.bench';
import { seamsCase } from './seams.bench';
import { sincutCase } from './sincut.bench';
import { convCase } from './conv.bench';
import { sincutProofCase } from './sincut-proof.bench';
import { serveFuzzCase } from './serve-fuzz.bench';
import { parseThreads } from '../../shared/threads';
import { idleMemoryCase } from './idle-memory.bench';
import { killSoakCase, watchSoakCase } from '../soak/cases';

export interface BenchArgs {
  /** Only this TF.js backend (tensorflow, webgpu, wasm, cpu); default: every one that loads. */
  backend?: string;
  /** Fewer iterations: a rough figure in a fraction of the time. */
  quick: boolean;
  /** A memory budget in MiB, for the cases that take one (seams); default: the engine's. */
  budgetMB?: number;
  /** The case's profiling mode, where it has one. */
  profile: boolean;
  /** Only this inference engine's rows (onnx, tfjs), for the cases that have both (convert). */
  engine?: string;
  /**
   * CPU thread counts to measure the wasm engine and PyTorch at, side by side (step, train,
   * sincut); default: 1 and every physical core.
   */
  threads?: number[];
  /** step: configurations and measures by name (`--config sample,fastcut`). */
  config?: string[];
  /** kill-soak: how many SIGKILLs in all. */
  kills?: number;
  /** watch-soak: how many files arrive at once. */
  files?: number;
  /** Soaks: the seed of every random draw, to replay a failure. */
  seed?: number;
  /** Soaks: keep the working folder. */
  keep?: boolean;
}

interface BenchCase {
  summary: string;
  run(args: BenchArgs): Promise<void>;
}

const CASES: Record<string, BenchCase> = {
  step: stepCase,
  convert: convertCase,
  train: trainCase,
  'known-answer': knownAnswerCase,
  heatmap: heatmapCase,
  seams: seamsCase,
  sincut: sincutCase,
  conv: convCase,
  'sincut-proof': sincutProofCase,
  'serve-fuzz': serveFuzzCase,
  'idle-memory': idleMemoryCase,
  'kill-soak': killSoakCase,
  'watch-soak': watchSoakCase,
};

const USAGE =
  'usage: npm run bench -- <case> [--backend NAME] [--engine onnx|tfjs] [--threads 1,2] ' +
  '[--quick] [--profile] [--budget MIB] [--config NAMES (step)]\n' +
  '       npm run bench -- kill-soak [--kills N] | watch-soak [--files N]  [--seed S] [--keep]';

function parse(argv: string[]): { name?: string; args: BenchArgs } {
  const args: BenchArgs = { quick: false, profile: false };
  let name: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') args.quick = true;
    else if (a === '--budget') {
      args.budgetMB = Number(argv[++i]);
      if (!(args.budgetMB > 0)) throw new Error('--budget needs a size in MiB');
    } else if (a === '--profile') args.profile = true;
    else if (a === '--threads') {
      const list = (argv[++i] ?? '').split(',').map((t) => parseThreads(t, '--threads'));
      if (list.some((t) => t === 'auto')) throw new Error('--threads takes counts, e.g. 1,2');
      args.threads = [...new Set(list as number[])].sort((x, y) => x - y);
    } else if (a === '--config') {
      args.config = (argv[++i] ?? '').split(',').filter((c) => c !== '');
      if (!args.config.length) throw new Error('--config needs names, e.g. sample,fastcut');
    } else if (a === '--kills' || a === '--seed' || a === '--files') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 0) throw new Error(`${a} needs a whole number`);
      args[a.slice(2) as 'kills' | 'seed' | 'files'] = n;
    } else if (a === '--keep') args.keep = true;
    else if (a === '--backend') {
      args.backend = argv[++i];
      if (!args.backend)
        throw new Error('--backend needs a name (tensorflow, webgpu, wasm or cpu)');
    } else if (a.startsWith('--backend=')) args.backend = a.slice('--backend='.length);
    else if (a === '--engine') {
      args.engine = argv[++i];
      if (args.engine !== 'onnx' && args.engine !== 'tfjs') {
        throw new Error('--engine needs onnx or tfjs');
      }
    } else if (a.startsWith('-')) throw new Error(`unknown option ${a}\n${USAGE}`);
    else if (name) throw new Error(`one case at a time (got "${name}" and "${a}")\n${USAGE}`);
    else name = a;
  }
  return { name, args };
}

function listCases(): string {
  const width = Math.max(...Object.keys(CASES).map((n) => n.length));
  const lines = Object.entries(CASES).map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`);
  return [USAGE, '', 'cases:', ...lines].join('\n');
}

async function main(): Promise<number> {
  const { name, args } = parse(process.argv.slice(2));
  if (!name) {
    console.log(listCases());
    return 0;
  }
  const found = CASES[name];
  if (!found) {
    console.error(`unknown case "${name}"\n\n${listCases()}`);
    return 2;
  }
  await found.run(args);
  return 0;
}

main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message || err.stack : err);
    process.exitCode = 1;
  },
);
