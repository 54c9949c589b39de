/** Runs `patchwork …` inside the test process (faster than a child), for CLI tests. */
import { vi } from 'vitest';
import { main } from '../../main/cli/index';

/**
 * Runs the command with stdout and stderr captured; returns its exit code and what it printed.
 * The caller's afterEach should reset `process.exitCode`, which the commands set.
 */
export async function patchwork(
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out.push(String(chunk));
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    err.push(String(chunk));
    return true;
  });
  process.exitCode = undefined;
  try {
    const code = await main(args);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    vi.restoreAllMocks();
  }
}
