// The webgpu tests run on SwiftShader (Chromium's CPU Vulkan driver), so they need no GPU;
// where it or Dawn's binding is missing they are skipped with the reason printed.
import { expect } from 'vitest';
import { initBackend } from '../../main/engine/backend';
import { listGpuAdapters, useSwiftShader } from '../../main/engine/webgpu';
import { parityChecks } from './parity-checks';

/** Points this process at SwiftShader; null when ready, else why the webgpu tests skip. */
export async function swiftShaderUnavailable(): Promise<string | null> {
  const icd = useSwiftShader();
  if (!icd) return 'no SwiftShader Vulkan driver (Debian: apt-get install chromium libvulkan1)';
  const adapters = await listGpuAdapters();
  if (adapters.length === 0) return `Dawn found no adapter with ${icd} (is libvulkan1 installed?)`;
  return null;
}

export async function onSwiftShader(): Promise<boolean> {
  const why = await swiftShaderUnavailable();
  if (why) {
    console.warn(`webgpu tests skipped: ${why}`);
    return false;
  }
  await initBackend('webgpu');
  return true;
}

export { maxOf, ownScaleError, relErrorAsync } from './parity-checks';

/** The parity checks with each failure an `expect` (see parity-checks.ts). */
export function expectParity(tol: number) {
  return parityChecks(tol, (label, err, limit) => expect(err, label).toBeLessThan(limit));
}
