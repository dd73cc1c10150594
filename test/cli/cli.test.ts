/**
 * The CLI as a user runs it: a child process, real files, the shipped ONNX teacher as a black box,
 * real ONNX Runtime for the exported student.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireSystemDep } from '../../scripts/system-deps.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = path.join(root, 'bin', 'distill.js');

function distill(args: string[], home: string) {
  const r = spawnSync(process.execPath, [bin, ...args, '--home', home], {
    encoding: 'utf8',
    cwd: root,
    timeout: 15 * 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function lastJson(stdout: string): Record<string, any> {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

const demo = readFileSync(path.join(root, 'resources', 'recipes', 'demo.yaml'), 'utf8');

function smallRecipe(dir: string, changes: Record<string, string>): string {
  let text = demo.replace('model: builtin:', 'model: ' + path.join(root, 'resources') + '/');
  for (const [from, to] of Object.entries(changes)) {
    assert.ok(text.includes(from), `demo recipe no longer contains "${from}"`);
    text = text.replace(from, to);
  }
  const file = path.join(dir, 'recipe.yaml');
  writeFileSync(file, text);
  return file;
}

test('distill run: a short recipe trains, reports JSON, and exports an ONNX model that matches', () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'distill-home-'));
  const recipe = smallRecipe(home, {
    'n: 2000': 'n: 300',
    'queries: 2000': 'queries: 300',
    'epochs: 60': 'epochs: 2',
    'balanced: false': 'balanced: false\n  testLimit: 500',
  });
  const r = distill(['run', recipe, '--json'], home);
  assert.equal(r.code, 0, r.stderr);
  const out = lastJson(r.stdout);
  assert.equal(out.backend, 'wasm');
  assert.equal(out.queries, 300);
  assert.equal(out.evaluationQueries, 500);
  assert.ok(out.accuracy > 0.3 && out.accuracy <= 1, `accuracy ${out.accuracy}`);
  assert.ok(out.fidelity > 0.3 && out.fidelity <= 1, `fidelity ${out.fidelity}`);
  assert.ok(out.teacherAccuracy > 0.85, `teacher accuracy ${out.teacherAccuracy}`);
  assert.ok(existsSync(out.onnx), 'ONNX file missing');
  assert.ok(out.onnxMaxAbsDiff <= 1e-4);
  const summary = JSON.parse(readFileSync(path.join(out.runDir, 'summary.json'), 'utf8'));
  assert.equal(summary.epochs.length, 2);
  assert.equal(summary.backend.key, 'wasm');
  assert.match(summary.backend.reason, /\S/);
  assert.equal(summary.method.plan.total, 300);
  // What the budget bought is visible: a grid of the images sent, with the teacher's labels.
  assert.ok(existsSync(path.join(out.runDir, 'artifacts', 'sent-real.png')));
  const grid = JSON.parse(readFileSync(path.join(out.runDir, 'artifacts', 'sent-real.json'), 'utf8'));
  assert.equal(grid.labels.length, 64);
  assert.ok(grid.labels.every((c: number) => Number.isInteger(c) && c >= 0 && c < 10));
  assert.match(r.stderr, /backend wasm/);
  assert.match(r.stderr, /epoch +2/);
});

test("--budget: only for resume, a positive integer, and never lower than the run's budget", () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'distill-home-'));
  const recipe = smallRecipe(home, {});
  const onRun = distill(['run', recipe, '--budget', '500'], home);
  assert.equal(onRun.code, 2);
  assert.match(onRun.stderr, /--budget applies to resume only/);
  const bad = distill(['resume', 'some-run', '--budget', '1e9x'], home);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--budget must be a positive integer, got "1e9x"/);
  assert.ok(!existsSync(path.join(home, 'runs')), 'nothing started');
});

test('distill run: a bad recipe fails before any work, listing every problem', () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'distill-home-'));
  const recipe = smallRecipe(home, {
    'key: lenet5-half': 'key: lenet7',
    'epochs: 60': 'epochs: -1',
    'temperature: 4': 'temperature: 4, gamma: 2',
  });
  const r = distill(['run', recipe, '--json'], home);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /training.epochs/);
  assert.match(r.stderr, /problems?\)/);
  assert.equal(r.stdout, '');
  assert.ok(!existsSync(path.join(home, 'runs')), 'no run folder may be created for a bad recipe');
  const r2 = distill(
    [
      'validate',
      smallRecipe(home, { 'key: lenet5-half': 'key: lenet7', 'temperature: 4': 'temperature: 4, gamma: 2' }),
    ],
    home,
  );
  assert.equal(r2.code, 2);
  assert.match(r2.stderr, /unknown student "lenet7"/);
  assert.match(r2.stderr, /method.kwargs.*gamma/);
});

test('distill run: a plan larger than the budget stops before any query', () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'distill-home-'));
  const recipe = smallRecipe(home, { 'n: 2000': 'n: 300', 'queries: 2000': 'queries: 299', 'epochs: 60': 'epochs: 1' });
  const r = distill(['run', recipe], home);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /needs 300 queries but the budget is 299/);
  assert.ok(!existsSync(path.join(home, 'runs')), 'nothing is started for a plan the budget cannot pay');
});

test('distill run: a bad DISTILL_WORKERS stops before any query', () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'distill-home-'));
  const recipe = smallRecipe(home, { 'n: 2000': 'n: 300', 'queries: 2000': 'queries: 300', 'epochs: 60': 'epochs: 1' });
  const r = spawnSync(process.execPath, [bin, 'run', recipe, '--home', home], {
    encoding: 'utf8',
    cwd: root,
    env: { ...process.env, DISTILL_WORKERS: 'two' },
  });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /DISTILL_WORKERS='two' is not a positive integer/);
  assert.ok(!existsSync(path.join(home, 'runs')), 'nothing is started, so no query is spent');
});

test('distill experiment: bad --seeds and --epochs are usage errors, before a teacher or store is touched', () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'distill-home-'));
  for (const [flag, value, message] of [
    ['--seeds', '7,x', /--seeds must be comma-separated non-negative integers, got "7,x"/],
    ['--seeds', '', /--seeds must be comma-separated non-negative integers/],
    ['--epochs', '0', /--epochs must be a positive integer, got "0"/],
  ] as const) {
    const r = distill(['experiment', 'fashion-fewshot', flag, value, '--out', path.join(home, 'out')], home);
    assert.equal(r.code, 2, `${flag} ${value}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.ok(!existsSync(path.join(home, 'out')), 'no results folder');
    assert.ok(!existsSync(path.join(home, 'distill.db')), 'no store');
  }
});

test('distill demo reaches at least 80% test accuracy with at most 2,000 teacher queries', () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'distill-home-'));
  const r = distill(['demo', '--json'], home);
  assert.equal(r.code, 0, r.stderr);
  const out = lastJson(r.stdout);
  assert.ok(out.queries <= 2000, `queries ${out.queries}`);
  assert.ok(out.accuracy >= 0.8, `demo accuracy ${out.accuracy}`);
  assert.ok(existsSync(out.onnx));
  // The shipped subset, whatever is installed (CI has Debian's full 70,000 images): 2,000
  // held-out images, so 2,000 evaluation queries, never the full test split's 10,000.
  requireSystemDep('dataset-fashion-mnist');
  assert.equal(out.evaluationQueries, 2000);
  assert.match(
    r.stderr,
    /local data: 2000 images from Fashion-MNIST train \(shipped demo subset\); held-out: 2000 images from Fashion-MNIST test \(shipped demo subset\)/,
  );
  assert.match(r.stderr, /^distill demo took \d+ s$/m);
  process.stderr.write(
    `demo: accuracy ${out.accuracy}, fidelity ${out.fidelity}, teacher ${out.teacherAccuracy}, ${out.queries} queries, ${out.seconds}s\n`,
  );
});
