#!/usr/bin/env node
// Node 20's test runner takes no globs and only finds .js test files by itself, so this lists
// test/**/*.test.ts and hands them to `node --test` (through tsx). Extra arguments pass through,
// e.g. `npm test -- --test-name-pattern=budget` or a single file path.
import { readdirSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const args = process.argv.slice(2);
const explicit = args.filter((a) => a.endsWith('.ts'));
const flags = args.filter((a) => !a.endsWith('.ts'));

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return name === 'node_modules' ? [] : find(p);
    return name.endsWith('.test.ts') ? [p] : [];
  });
}

const files = explicit.length ? explicit : find('test').sort();
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...flags, ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
