// Lint with import boundaries: the engine never touches Electron, and the renderer never touches Node.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import svelteParser from 'svelte-eslint-parser';

const nodeBuiltins = [
  'fs', 'path', 'os', 'child_process', 'worker_threads', 'http', 'https', 'net', 'crypto', 'zlib', 'stream', 'url', 'util', 'events', 'module',
];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'out/**', 'release/**', 'bench/out/**', 'src-renderer/dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
  {
    // Sandboxed preloads must be CommonJS and may only require('electron').
    files: ['src-main/app/**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Everything outside src-main/app is engine code and must run without Electron.
    files: ['src-main/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts', 'bin/**/*.js'],
    ignores: ['src-main/app/**'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: 'electron', message: 'Only src-main/app may import electron; the engine runs without it.' }],
        patterns: [{ group: ['electron/*', '**/app/*', '**/src-main/app/**'], message: 'The engine must not depend on the Electron shell.' }],
      }],
    },
  },
  {
    // Training is below the methods: they name their losses in its registry (step-registry.ts), and
    // it never imports them back. The rule replaces the engine's one above, so it repeats it.
    files: ['src-main/training/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: 'electron', message: 'Only src-main/app may import electron; the engine runs without it.' }],
        patterns: [
          { group: ['electron/*', '**/app/*', '**/src-main/app/**'], message: 'The engine must not depend on the Electron shell.' },
          { group: ['**/methods/*', '**/methods/**'], message: 'training/ must not import methods/: a method registers its losses and hooks in training/step-registry.ts.' },
        ],
      }],
    },
  },
  {
    // Svelte components: parsed by svelte-eslint-parser, their <script lang="ts"> by typescript-eslint.
    files: ['src-renderer/**/*.svelte', 'src-renderer/**/*.svelte.ts'],
    languageOptions: { parser: svelteParser, parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.svelte'] } },
  },
  {
    // The renderer talks only to the typed API contract; it never imports Node code.
    files: ['src-renderer/**/*.ts', 'src-renderer/**/*.js', 'src-renderer/**/*.svelte'],
    languageOptions: { globals: { window: 'readonly', document: 'readonly', location: 'readonly', fetch: 'readonly', WebSocket: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', console: 'readonly', atob: 'readonly', localStorage: 'readonly', HTMLCanvasElement: 'readonly', ImageData: 'readonly', matchMedia: 'readonly', HTMLElement: 'readonly', queueMicrotask: 'readonly', Event: 'readonly' } },
    rules: {
      'no-restricted-imports': ['error', {
        paths: [
          { name: 'electron', message: 'The renderer reaches the engine only through the API contract.' },
          ...nodeBuiltins.map((name) => ({ name, message: 'The renderer runs in a browser sandbox: no Node modules.' })),
        ],
        patterns: [
          { group: ['node:*'], message: 'The renderer runs in a browser sandbox: no Node modules.' },
          { group: ['**/src-main/*', '!**/src-main/api', '**/src-main/*/**', '!**/src-main/api/**'], message: 'Import only src-main/api from the renderer.' },
        ],
      }],
    },
  },
);
