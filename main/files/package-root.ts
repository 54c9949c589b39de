/**
 * The package's own files: the folder that holds package.json, resources/ and out/. It is two
 * folders above this module both in the sources (main/files/) and in the built CLI, whose
 * chunks all sit in out/cli/ (vite.app.config.ts), so one relative URL serves both.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** With a trailing separator. */
export const PACKAGE_ROOT = fileURLToPath(new URL(/* @vite-ignore */ '../../', import.meta.url));

/** package.json's version, or 0.0.0 when it cannot be read. */
export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(`${PACKAGE_ROOT}package.json`, 'utf8')) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}
