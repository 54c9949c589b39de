/** The soaks as bench cases: `npm run bench -- kill-soak` and `npm run bench -- watch-soak`. */
import type { BenchArgs } from '../bench/index';
import { runKillSoak } from './kill-soak';
import { runWatchSoak } from './watch-soak';

export const killSoakCase = {
  summary:
    'train, convert and watch killed with SIGKILL at random (--kills N, default 60), resumed; counts of what was lost',
  async run(args: BenchArgs): Promise<void> {
    const ok = await runKillSoak({
      kills: args.kills ?? (args.quick ? 12 : 60),
      seed: args.seed ?? 1,
      keep: Boolean(args.keep),
    });
    if (!ok) throw new Error('the soak found problems (counts above)');
  },
};

export const watchSoakCase = {
  summary: 'a watched folder under 1,000 arrivals, slow writes, renames, replacements, deletions',
  async run(args: BenchArgs): Promise<void> {
    const ok = await runWatchSoak({
      files: args.files ?? (args.quick ? 200 : 1000),
      seed: args.seed ?? 1,
      keep: Boolean(args.keep),
    });
    if (!ok) throw new Error('the soak found problems (counts above)');
  },
};
