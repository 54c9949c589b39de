// One lint config for the whole tree. The import rules keep each folder to the process it
// runs in: TF.js only in the engine, Electron only in the shell and preload, shared/ and the
// renderer pure, and the studio's services, transport and shell off the engine (it runs in
// its own process, reached through the worker protocol).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import svelteConfig from './svelte.config.js';

const tfjs = { group: ['@tensorflow/*'], message: 'TF.js is imported only by main/engine/.' };
const electron = {
  name: 'electron',
  message: 'Electron is imported only by main/app/ and preload/.',
};
const nodeBuiltins = {
  group: ['node:*', 'fs', 'path', 'os', 'child_process', 'sharp', 'chokidar', 'ws'],
  message:
    'shared/, preload/ and renderer/ are pure TypeScript: no Node built-ins or native modules.',
};
const engine = {
  group: ['**/engine/**', '**/jobs/**', '**/worker/**'],
  message:
    'The studio reaches the engine, its jobs and its process only through the worker protocol (shared/ipc-worker.ts).',
};
const mainCode = {
  group: ['**/main/**'],
  message: 'The page talks to the services only through the api (shared/ipc.ts).',
};

export default tseslint.config(
  { ignores: ['node_modules/', 'out/', 'dist/', 'coverage/', 'test-results/', 'patchwork-demo/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...svelte.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: {
      parserOptions: {
        projectService: false,
        extraFileExtensions: ['.svelte'],
        parser: tseslint.parser,
        svelteConfig,
      },
    },
  },
  {
    files: ['renderer/**/*.ts', 'renderer/**/*.svelte'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ['shared/**/*.ts', 'renderer/**/*.ts', 'renderer/**/*.svelte'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [electron], patterns: [tfjs, nodeBuiltins, mainCode] },
      ],
    },
  },
  {
    files: ['main/**/*.ts'],
    ignores: ['main/engine/**', 'main/app/**'],
    rules: { 'no-restricted-imports': ['error', { paths: [electron], patterns: [tfjs] }] },
  },
  {
    // The studio's services and its transport run beside the engine, never with it.
    files: ['main/services/**/*.ts', 'main/serve/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [electron], patterns: [tfjs, engine] }],
    },
  },
  {
    files: ['main/engine/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [electron] }] },
  },
  {
    files: ['main/app/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [tfjs, engine] }] },
  },
  {
    // The style folder's owner serves the studio as well as the engine: no TF.js, no engine.
    files: ['main/style/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [electron], patterns: [tfjs, engine] }],
    },
  },
  {
    // A sandboxed preload can require only electron; everything else is bundled in.
    files: ['preload/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [tfjs, engine, nodeBuiltins] }] },
  },
);
