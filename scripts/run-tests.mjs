#!/usr/bin/env node
// Node 20's test runner takes no globs and only finds .js test files by itself, so this lists
// test/**/*.test.ts and hands them to `node --test` (through tsx). Extra arguments pass through,
// e.g. `npm test -- --test-name-pattern=budget` or a single file path.
//
// The tests make temporary homes, stores and exports under os.tmpdir(); the run gets a TMPDIR of
// its own, removed when every test passed and kept (its path printed) when one failed, so repeated
// runs do not pile up files in /tmp and a failure's files are there to look at.
//
// Before any test, the Debian packages the tests use (scripts/system-deps.mjs) are installed when
// missing and this user may (root, or sudo without a password); otherwise the run stops at once
// with the command to type. No test is skipped for want of one.
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { ensureSystemDeps } from './system-deps.mjs';

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

if (!ensureSystemDeps()) process.exit(1);

const files = explicit.length ? explicit : find('test').sort();
const tmp = mkdtempSync(path.join(os.tmpdir(), 'distill-tests-'));
// Said first, so that the runner's summary stays the last lines of the output.
process.stdout.write(`# temporary files: ${tmp} (removed if every test passes)\n`);
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...flags, ...files], {
  stdio: 'inherit',
  env: { ...process.env, TMPDIR: tmp },
});
if (r.status === 0) rmSync(tmp, { recursive: true, force: true });
process.exit(r.status ?? 1);
