// The desktop app's Node-side bundles, one per mode, into out/app/:
//   main     main/app/main.ts             → main.js      (ESM, Electron's main process)
//   preload  preload/index.ts             → preload.cjs  (CommonJS: sandboxed preloads are)
//   worker   main/worker/engine-worker.ts → worker.js    (ESM, the utilityProcess)
// Packages stay external (they ship in node_modules, natives unpacked from the asar); the
// preload bundles everything but electron, since a sandboxed preload can require nothing else.
//
// And the `patchwork` command (package.json's bin), --mode cli, into out/cli/:
//   main/cli/bin.ts → patchwork.js, main/worker/engine-worker.ts → engine-worker.js (the
//   process `patchwork serve` forks), and their common code in one shared chunk beside them.
// Packages stay external here too: every one is a runtime dependency npm installs with the
// command, and several find their own files beside themselves (TF.js's .wasm binaries, sharp's
// libvips, Dawn's dawn.node). All chunks stay in out/cli/ itself: main/files/package-root.ts
// finds package.json, out/renderer and resources/samples two folders above them.
import { chmodSync } from 'node:fs';
import path from 'node:path';
import { defineConfig, type UserConfig } from 'vite';

const ENTRIES = {
  main: 'main/app/main.ts',
  preload: 'preload/index.ts',
  worker: 'main/worker/engine-worker.ts',
} as const;

const bare = (id: string) => !id.startsWith('.') && !path.isAbsolute(id) && !id.startsWith('\0');

export default defineConfig(({ mode }) => {
  if (mode === 'cli') return cli;
  if (!(mode in ENTRIES)) {
    throw new Error(
      `vite.app.config.ts: --mode must be one of ${[...Object.keys(ENTRIES), 'cli'].join(', ')}`,
    );
  }
  const name = mode as keyof typeof ENTRIES;
  const preload = name === 'preload';
  return {
    publicDir: false,
    build: {
      outDir: 'out/app',
      emptyOutDir: false,
      target: 'node20',
      minify: false,
      sourcemap: true,
      lib: {
        entry: ENTRIES[name],
        formats: [preload ? 'cjs' : 'es'],
        fileName: () => (preload ? 'preload.cjs' : `${name}.js`),
      },
      rollupOptions: {
        external: preload ? ['electron'] : bare,
      },
    },
  };
});

const cli: UserConfig = {
  publicDir: false,
  plugins: [
    {
      // Executable, as `npm link` and `npx patchwork` in the clone run it (npm sets the mode
      // itself only when it installs a package, and a rebuild writes the file anew).
      name: 'patchwork-bin-mode',
      writeBundle: (options) =>
        chmodSync(path.join(options.dir ?? 'out/cli', 'patchwork.js'), 0o755),
    },
  ],
  build: {
    outDir: 'out/cli',
    emptyOutDir: true,
    target: 'node20',
    minify: false,
    sourcemap: true,
    lib: {
      // bin.ts's `#!/usr/bin/env node` line stays at the top of patchwork.js.
      entry: { patchwork: 'main/cli/bin.ts', 'engine-worker': 'main/worker/engine-worker.ts' },
      formats: ['es'],
    },
    rollupOptions: {
      external: bare,
      output: { chunkFileNames: 'common-[hash].js' },
    },
  },
};
