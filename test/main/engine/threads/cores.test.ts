// Hyperthreads share a core's vector units: the default thread count counts cores, not them.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { countSysfsCores, physicalCores } from '../../../../main/engine/threads/cores';

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fake /sys/devices/system/cpu: one entry per logical cpu, [package, core] or null (offline). */
function sysfs(cpus: ([number, number] | null)[]): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'cores-test-'));
  made.push(root);
  cpus.forEach((where, i) => {
    const dir = path.join(root, `cpu${i}`);
    mkdirSync(dir);
    if (!where) return;
    mkdirSync(path.join(dir, 'topology'));
    writeFileSync(path.join(dir, 'topology', 'physical_package_id'), `${where[0]}\n`);
    writeFileSync(path.join(dir, 'topology', 'core_id'), `${where[1]}\n`);
  });
  mkdirSync(path.join(root, 'cpufreq')); // not a cpu
  return root;
}

it('counts (package, core) pairs once, whatever the hyperthreads', () => {
  expect(
    countSysfsCores(
      sysfs([
        [0, 0],
        [0, 1],
        [0, 0],
        [0, 1],
      ]),
    ),
  ).toBe(2);
  // The same core number on two packages is two cores.
  expect(
    countSysfsCores(
      sysfs([
        [0, 0],
        [1, 0],
      ]),
    ),
  ).toBe(2);
  expect(countSysfsCores(sysfs([[0, 0], null, [0, 3]]))).toBe(2);
});

it('says null when nothing can be read', () => {
  expect(countSysfsCores(path.join(os.tmpdir(), 'no-such-sysfs-folder'))).toBeNull();
  expect(countSysfsCores(sysfs([null]))).toBeNull();
});

it('never reports more cores than the process may use', () => {
  const n = physicalCores();
  expect(n).toBeGreaterThanOrEqual(1);
  expect(n).toBeLessThanOrEqual(os.availableParallelism());
});
