// The desktop app's Node-side bundles, one per mode, into out/app/:
//   main     main/app/main.ts             → main.js      (ESM, Electron's main process)
//   preload  preload/index.ts             → preload.cjs  (CommonJS: sandboxed preloads are)
//   worker   main/worker/engine-worker.ts → worker.js    (ESM, the utilityProcess)
// Packages stay external (they ship in node_modules, natives unpacked from the asar); the
// preload bundles everything but electron, since a sandboxed preload can require nothing else.
import path from 'node:path';
import { defineConfig } from 'vite';

const ENTRIES = {
  main: 'main/app/main.ts',
  preload: 'preload/index.ts',
  worker: 'main/worker/engine-worker.ts',
} as const;

export default defineConfig(({ mode }) => {
  if (!(mode in ENTRIES)) {
    throw new Error(`vite.app.config.ts: --mode must be one of ${Object.keys(ENTRIES).join(', ')}`);
  }
  const name = mode as keyof typeof ENTRIES;
  const preload = name === 'preload';
  const bare = (id: string) => !id.startsWith('.') && !path.isAbsolute(id) && !id.startsWith('\0');
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
