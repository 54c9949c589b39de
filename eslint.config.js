// One lint config for the whole tree. The import rules keep each folder to the process it
// runs in: TF.js only in the engine, Electron only in the shell and preload, shared/ pure.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const tfjs = { group: ['@tensorflow/*'], message: 'TF.js is imported only by main/engine/.' };
const electron = {
  name: 'electron',
  message: 'Electron is imported only by main/app/ and preload/.',
};
const nodeBuiltins = {
  group: ['node:*', 'fs', 'path', 'os', 'child_process', 'sharp', 'chokidar'],
  message: 'shared/ and renderer/ are pure TypeScript: no Node built-ins or native modules.',
};

export default tseslint.config(
  { ignores: ['node_modules/', 'out/', 'dist/', 'coverage/', 'test-results/', 'patchwork-demo/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['shared/**/*.ts', 'renderer/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [electron], patterns: [tfjs, nodeBuiltins] }],
    },
  },
  {
    files: ['main/**/*.ts'],
    ignores: ['main/engine/**', 'main/app/**'],
    rules: { 'no-restricted-imports': ['error', { paths: [electron], patterns: [tfjs] }] },
  },
  {
    files: ['main/engine/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [electron] }] },
  },
  {
    files: ['main/app/**/*.ts', 'preload/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [tfjs] }] },
  },
);
