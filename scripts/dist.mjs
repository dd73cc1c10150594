#!/usr/bin/env node
// Builds the desktop packages with electron-builder from the shell's own toolchain
// (src-main/app/node_modules, which `npm run dist` installs before this runs). The project's
// package.json does not list electron, so electron-builder is told which Electron version that
// toolchain holds. Extra arguments pass through: `npm run dist -- --linux AppImage`.
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const requireFromApp = createRequire(path.join(root, 'src-main', 'app', 'package.json'));
let electronVersion;
let cli;
try {
  electronVersion = JSON.parse(readFileSync(requireFromApp.resolve('electron/package.json'), 'utf8')).version;
  cli = requireFromApp.resolve('electron-builder/cli.js');
} catch {
  console.error('The desktop toolchain is not installed: run `npm ci --prefix src-main/app` (Node >= 22.12) first.');
  process.exit(1);
}
const r = spawnSync(
  process.execPath,
  [
    cli,
    '--projectDir',
    root,
    '--config',
    'electron-builder.yml',
    `-c.electronVersion=${electronVersion}`,
    '--publish',
    'never',
    ...process.argv.slice(2),
  ],
  { stdio: 'inherit', cwd: root },
);
process.exit(r.status ?? 1);
