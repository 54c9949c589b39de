/** Starts the real `patchwork serve` command for a test and reads the address it prints. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Page } from '@playwright/test';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));

export interface ServeProcess {
  url: string;
  origin: string;
  child: ChildProcess;
  output: () => string;
  stop(): Promise<void>;
}

export async function startServe(args: string[]): Promise<ServeProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'main/cli/bin.ts', 'serve', '--port', '0', ...args],
    { cwd: REPO, env: { ...process.env, FORCE_COLOR: '0' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${out}`)), 60_000);
    const look = () => {
      const m = /open (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout?.on('data', look);
    child.on('exit', (code) => reject(new Error(`serve exited (${code}):\n${out}`)));
  });
  return {
    url,
    origin: new URL(url).origin,
    child,
    output: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** The contract over HTTP with the token, as the page's client sends it; a refusal throws. */
export async function callApi(
  serve: ServeProcess,
  channel: string,
  input: unknown,
): Promise<Record<string, unknown>> {
  // The printed address carries the token in its fragment (#token=…).
  const token = new URLSearchParams(new URL(serve.url).hash.slice(1)).get('token') ?? '';
  const res = await fetch(`${serve.origin}/api`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify({ channel, input }),
  });
  const reply = (await res.json()) as { ok: boolean; value: Record<string, unknown> };
  if (!reply.ok) throw new Error(`${channel}: ${JSON.stringify(reply)}`);
  return reply.value;
}

/** Waits for a job to end (polling `jobs:list`) and returns how it ended. */
export async function settle(serve: ServeProcess, jobId: string): Promise<string> {
  for (let i = 0; i < 900; i++) {
    const { jobs } = (await callApi(serve, 'jobs:list', {})) as {
      jobs: { id: string; status: string }[];
    };
    const status = jobs.find((j) => j.id === jobId)?.status;
    if (status && !['queued', 'running', 'paused'].includes(status)) return status;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`job ${jobId} did not end`);
}

/**
 * Collects the page's console errors, page errors and CSP violations (each reported, whether or
 * not the browser logs it), and with `failedResponses` every answer of 400 or more; a test
 * expects the list empty at its end.
 */
export function watchConsole(page: Page, { failedResponses = false } = {}): string[] {
  const problems: string[] = [];
  void page.addInitScript({
    content:
      "document.addEventListener('securitypolicyviolation', (e) => console.error(" +
      '`CSP violation: ${e.violatedDirective} ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}`));',
  });
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
  if (failedResponses) {
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`);
    });
  }
  return problems;
}
