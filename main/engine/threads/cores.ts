/**
 * The machine's physical cores, for the engine's default thread count (shared/threads.ts).
 * A hyperthread shares its core's vector units, so a second wasm thread on it adds little:
 * Linux counts distinct (package, core) pairs in sysfs, macOS asks sysctl; elsewhere, or when
 * that fails, the logical processors Node may use. Never more than os.availableParallelism()
 * (a process limited by affinity or a container gets what it may run on).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const SYSFS_CPU = '/sys/devices/system/cpu';

/** Distinct (package, core) pairs under a sysfs cpu folder; null when it cannot be read. */
export function countSysfsCores(root = SYSFS_CPU): number | null {
  try {
    const seen = new Set<string>();
    for (const name of readdirSync(root)) {
      if (!/^cpu\d+$/.test(name)) continue;
      const topology = path.join(root, name, 'topology');
      try {
        const core = readFileSync(path.join(topology, 'core_id'), 'utf8').trim();
        const pkg = readFileSync(path.join(topology, 'physical_package_id'), 'utf8').trim();
        seen.add(`${pkg}:${core}`);
      } catch {
        // An offline cpu has no topology folder.
      }
    }
    return seen.size > 0 ? seen.size : null;
  } catch {
    return null;
  }
}

function macPhysicalCores(): number | null {
  try {
    const n = Number(execFileSync('sysctl', ['-n', 'hw.physicalcpu'], { encoding: 'utf8' }));
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

let cached: number | null = null;

export function physicalCores(): number {
  if (cached !== null) return cached;
  const logical = os.availableParallelism();
  const physical =
    process.platform === 'linux'
      ? countSysfsCores()
      : process.platform === 'darwin'
        ? macPhysicalCores()
        : null;
  cached = Math.max(1, Math.min(logical, physical ?? logical));
  return cached;
}
