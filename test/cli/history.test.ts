/**
 * The history commands and cross-process control, as a user drives them: `distill pause` from a
 * second process stops a running `distill run`, `distill resume` finishes it, and the history
 * shows, compares and exports it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = path.join(root, 'bin', 'distill.js');
const home = mkdtempSync(path.join(os.tmpdir(), 'distill-history-'));

function distill(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args, '--home', home], {
    encoding: 'utf8',
    cwd: root,
    timeout: 10 * 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

// Long enough that a pause asked for at epoch 2, through two more CLI processes, lands well before the
// end: one epoch of 300 images takes a few tens of milliseconds on wasm.
const EPOCHS = 400;
const recipeFile = path.join(home, 'short.yaml');
writeFileSync(
  recipeFile,
  readFileSync(path.join(root, 'resources', 'recipes', 'demo.yaml'), 'utf8')
    .replace('n: 2000', 'n: 300\n  testLimit: 300')
    .replace('queries: 2000', 'queries: 300')
    .replace(/epochs: \d+/, `epochs: ${EPOCHS}`)
    .replace('onnx: true', 'onnx: false'),
);

test('distill pause from another process stops a run; distill resume finishes it without new queries', async () => {
  const child = spawn(process.execPath, [bin, 'run', recipeFile, '--home', home, '--json'], { cwd: root });
  let stderr = '';
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  const paused = new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (d) => {
      stderr += d;
      if (/epoch +2 /.test(stderr) && !stderr.includes('#asked')) {
        stderr += '#asked';
        const runs = JSON.parse(distill('runs', '--json').stdout);
        const r = distill('pause', runs[0].id);
        if (r.code !== 0) reject(new Error(r.stderr));
        resolve();
      }
    });
  });
  await paused;
  const code = await new Promise((r) => child.on('exit', r));
  assert.equal(code, 0, stderr);
  const first = JSON.parse(stdout.trim().split('\n').pop()!);
  assert.equal(first.status, 'paused');
  assert.equal(first.queries, 300);

  const resumed = distill('resume', first.runId, '--json');
  assert.equal(resumed.code, 0, resumed.stderr);
  const done = JSON.parse(resumed.stdout.trim().split('\n').pop()!);
  assert.equal(done.status, 'completed');
  assert.equal(done.queries, 300, 'the resumed run re-used every paid reply');
  assert.match(resumed.stderr, /resuming from the checkpoint of epoch \d+/);

  const shown = JSON.parse(distill('show', first.runId, '--json').stdout);
  assert.deepEqual(
    shown.metrics.map((m: { epoch: number }) => m.epoch),
    Array.from({ length: EPOCHS }, (_, i) => i + 1),
  );
  assert.ok(shown.events.some((e: { message: string }) => e.message === 'pause requested'));
  assert.equal(shown.status, 'completed');
});

test('runs, compare and history export agree with the store', () => {
  const second = distill('run', recipeFile, '--json', '--epochs', '2');
  assert.equal(second.code, 0, second.stderr);
  const runs = JSON.parse(distill('runs', '--json').stdout);
  assert.equal(runs.length, 2);
  const table = distill('runs');
  assert.match(table.stdout, /completed/);
  const cmp = distill('compare', runs[0].id, runs[1].id);
  assert.equal(cmp.code, 0, cmp.stderr);
  assert.match(cmp.stdout, /accuracy/);
  const csvFile = path.join(home, 'history.csv');
  assert.equal(distill('history', '--format', 'csv', '--out', csvFile).code, 0);
  const lines = readFileSync(csvFile, 'utf8').trim().split('\n');
  assert.equal(lines[0], 'run,name,status,student,method,teacher_replies,epoch,loss,accuracy,fidelity,queries,created');
  assert.equal(lines.length, 1 + EPOCHS + 2, 'one row per epoch of each run');
  const json = JSON.parse(distill('history', '--format', 'json').stdout);
  assert.equal(json.length, 2);
  assert.equal(distill('show', 'no-such-run').code, 1);
  assert.equal(distill('history', '--format', 'xml').code, 2);
});
