/**
 * `patchwork serve`: the studio in a browser tab. The same services as the desktop app
 * behind a local HTTP/WebSocket transport; prints the address to open, which carries a
 * random token. Folders are limited to the library and the --allow roots.
 */
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { serveStudio } from '../serve/index';
import { hostNameProblem, isLoopback } from '../serve/host-names';
import { tokenProblem } from '../serve/token';
import { int } from './args';
import { EXIT, UsageError } from './errors';

interface ServeFlags {
  port: number;
  host: string;
  library: string;
  allow?: string[];
  allowHost: string[];
  token?: string;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Open the studio in a browser: a local server with the desktop app’s interface.')
    .option('--port <n>', 'port to listen on (0: any free port)', int('--port', { min: 0 }), 7860)
    .option('--host <addr>', 'interface to bind (loopback unless you mean otherwise)', '127.0.0.1')
    .option(
      '--library <dir>',
      'where trained styles are kept',
      path.join(os.homedir(), 'Patchwork'),
    )
    .option(
      '--allow <dir...>',
      'folders the browser may read and write (default: the current folder)',
    )
    .option(
      '--allow-host <names>',
      'other names the server may be reached by, besides --host (repeatable, or comma-separated)',
      allowHost,
      [],
    )
    .option('--token <text>', 'the access token, 22+ characters (default: a random one)', token)
    .action(async (flags: ServeFlags) => {
      process.exitCode = await serve(flags);
    });
}

async function serve(flags: ServeFlags): Promise<number> {
  const allowed = (flags.allow?.length ? flags.allow : [process.cwd()]).map((d) => path.resolve(d));
  const served = await serveStudio({
    libraryDir: path.resolve(flags.library),
    allowedRoots: allowed,
    host: flags.host,
    allowHosts: flags.allowHost,
    port: flags.port,
    token: flags.token,
  });
  if (!isLoopback(flags.host)) {
    const names = [flags.host, ...flags.allowHost].join(', ');
    process.stderr.write(
      `warning: listening on ${flags.host}, not only this computer: anyone who can reach it ` +
        'and has the address (with its token) can use the studio, over unencrypted HTTP.\n' +
        `Requests must name the server as ${names}; add others with --allow-host.\n`,
    );
  }
  process.stdout.write(
    `Patchwork is ready: open ${served.url}\n` +
      `library: ${path.resolve(flags.library)}\nfolders allowed: ${allowed.join(', ')}\n` +
      'Ctrl-C stops the server.\n',
  );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  process.stdout.write('stopping…\n');
  await served.close();
  return EXIT.ok;
}

/** --allow-host: each use adds its comma-separated names. */
function allowHost(value: string, previous: string[]): string[] {
  const names = value
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  for (const name of names) {
    const problem = hostNameProblem(name);
    if (problem) throw new UsageError(`--allow-host: ${problem}`);
  }
  return [...previous, ...names];
}

function token(value: string): string {
  const problem = tokenProblem(value);
  if (problem) throw new UsageError(`--token: ${problem}`);
  return value;
}
