/**
 * `distill export` on a real run: the CLI trains a short run against the shipped teacher, exports
 * the bundle, and the bundle's own Node example classifies a PNG written from the held-out data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { PNG } from 'pngjs';
import { loadModel } from '../../src-main/students/model-io.ts';
import { loadDataset } from '../../src-main/data/load-dataset.ts';
import { predictLogits } from '../../src-main/training/evaluate.ts';
import { loadRecipeFile, RESOURCES_DIR } from '../../src-main/recipe/load-recipe.ts';
import { checkWithOnnxChecker, PYTHON } from './helpers.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = path.join(root, 'bin', 'distill.js');
const work = mkdtempSync(path.join(os.tmpdir(), 'distill-bundle-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

function distill(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: root, timeout: 10 * 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function lastJson(stdout: string): Record<string, any> {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

/** The demo recipe, cut to a run that takes seconds: 1,000 images and queries, 6 epochs, 1,000 held-out. */
function shortRecipe(): string {
  const { recipe } = loadRecipeFile(path.join(RESOURCES_DIR, 'recipes', 'demo.yaml'));
  Object.assign(recipe.data, { n: 1000, testLimit: 1000 });
  Object.assign(recipe.budget, { queries: 1000 });
  Object.assign(recipe.training, { epochs: 6 });
  const file = path.join(work, 'recipe.json');
  writeFileSync(file, JSON.stringify(recipe));
  return file;
}

test('distill export writes a proven bundle whose Node example classifies a held-out PNG', async (t) => {
  const home = path.join(work, 'home');
  const run = distill(['run', shortRecipe(), '--json', '--home', home]);
  assert.equal(run.code, 0, run.stderr);
  const { runId, runDir } = lastJson(run.stdout);

  const out = path.join(work, 'bundle');
  const exp = distill(['export', runId, '--home', home, '--out', out, '--json']);
  assert.equal(exp.code, 0, exp.stderr);
  const report = lastJson(exp.stdout);
  for (const f of [
    'model.onnx',
    'model.fp16.onnx',
    'model.int8.onnx',
    'signature.json',
    'model-card.json',
    'model-card.md',
    'example-node.mjs',
    'example_python.py',
    'README.md',
  ]) {
    assert.ok(existsSync(path.join(out, f)), `${f} missing from the bundle`);
  }

  const sig = JSON.parse(readFileSync(path.join(out, 'signature.json'), 'utf8'));
  assert.equal(sig.opset, 13);
  assert.deepEqual(sig.input.shape, ['N', 1, 28, 28]);
  assert.equal(sig.input.layout, 'NCHW');
  assert.equal(sig.input.dtype, 'float32');
  assert.equal(sig.output.kind, 'logits');
  assert.equal(sig.classNames.length, 10);
  assert.equal(sig.classNames[1], 'Trouser');

  const card = JSON.parse(readFileSync(path.join(out, 'model-card.json'), 'utf8'));
  const summary = JSON.parse(readFileSync(path.join(runDir, 'summary.json'), 'utf8'));
  assert.deepEqual(Object.keys(card.teacher).sort(), ['id', 'name', 'protocol', 'responseKind']);
  assert.equal(card.teacher.id, summary.teacher.id);
  assert.equal(card.data.fingerprint, summary.data.fingerprint);
  assert.equal(card.budget.trainingQueries, 1000);
  assert.equal(card.student.params, summary.student.params);
  assert.equal(card.calibration.matchesRunFingerprint, true, "int8 is calibrated on the run's own local images");
  const by = Object.fromEntries(card.precisions.map((p: any) => [p.precision, p]));
  assert.ok(by.fp32.maxAbsDiffVsFp32Student <= 1e-4, `fp32 max diff ${by.fp32.maxAbsDiffVsFp32Student}`);
  assert.equal(by.fp32.fidelityVsFp32Student, 1);
  assert.ok(by.fp16.sizeBytes < 0.6 * by.fp32.sizeBytes, 'fp16 weights halve the file');
  assert.ok(by.int8.sizeBytes < 0.4 * by.fp32.sizeBytes, 'int8 weights quarter the file');
  assert.ok(
    by.int8.integerKernels.includes('QLinearConv') && by.int8.integerKernels.includes('QGemm'),
    by.int8.integerKernels.join(' '),
  );
  assert.deepEqual(by.int8.floatComputeLeft, []);
  for (const p of card.precisions) {
    assert.equal(typeof p.accuracyDropVsFp32Student, 'number', `${p.precision} accuracy drop is reported`);
    assert.ok(p.latency.p50Ms > 0 && p.latency.p95Ms >= p.latency.p50Ms && p.latency.throughput > 0);
  }
  assert.equal(report.precisions.length, 3);
  const md = readFileSync(path.join(out, 'model-card.md'), 'utf8');
  assert.match(md, new RegExp(summary.data.fingerprint));
  assert.match(md, /\| int8 \| `model\.int8\.onnx` \|/);
  t.diagnostic(
    `bundle: ${card.precisions.map((p: any) => `${p.precision} ${p.sizeBytes} B acc ${p.accuracy} drop ${p.accuracyDropVsFp32Student} fid ${p.fidelityVsFp32Student} diff ${p.maxAbsDiffVsFp32Student.toExponential(2)}`).join('; ')}`,
  );

  for (const f of ['model.onnx', 'model.fp16.onnx', 'model.int8.onnx']) checkWithOnnxChecker(path.join(out, f));
  // Python onnxruntime is not installable here, so the Python example is only compiled.
  const pyc = spawnSync(
    PYTHON,
    [
      '-c',
      'import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)',
      path.join(out, 'example_python.py'),
      path.join(work, 'example.pyc'),
    ],
    { encoding: 'utf8' },
  );
  assert.equal(pyc.status, 0, pyc.stderr);

  // A held-out image the trained student gets right, with a clear margin so no rounding can flip it.
  await tf.setBackend('cpu');
  const student = await loadModel(path.join(runDir, 'student'));
  const test = loadDataset({ kind: 'idx', split: 'test' });
  const n = 200;
  const logits = await predictLogits(student, test.images, n, test);
  student.dispose();
  let pick = -1;
  for (let i = 0; i < n && pick < 0; i++) {
    const row = Array.from(logits.subarray(i * 10, i * 10 + 10));
    const best = row.indexOf(Math.max(...row));
    const second = Math.max(...row.filter((_, j) => j !== best));
    if (best === test.labels![i] && row[best] - second > 0.5) pick = i;
  }
  assert.ok(pick >= 0, 'the student classifies none of the first 200 held-out images clearly');
  const png = new PNG({ width: 28, height: 28, colorType: 0 });
  for (let p = 0; p < 784; p++) {
    const v = Math.round(test.images[pick * 784 + p] * 255);
    png.data.set([v, v, v, 255], p * 4);
  }
  const pngFile = path.join(work, 'held-out.png');
  writeFileSync(pngFile, PNG.sync.write(png, { colorType: 0 }));

  // A user runs `npm i onnxruntime-node pngjs` in the bundle; the project's copies stand in for that.
  symlinkSync(path.join(root, 'node_modules'), path.join(out, 'node_modules'), 'dir');
  const expected = sig.classNames[test.labels![pick]];
  const ex = spawnSync(process.execPath, [path.join(out, 'example-node.mjs'), pngFile], {
    encoding: 'utf8',
    cwd: work,
  });
  assert.equal(ex.status, 0, ex.stderr);
  assert.equal(ex.stdout.split('\n')[0].split('\t')[0], expected, ex.stdout);
  const ex8 = spawnSync(process.execPath, [path.join(out, 'example-node.mjs'), pngFile, 'model.int8.onnx'], {
    encoding: 'utf8',
    cwd: work,
  });
  assert.equal(ex8.status, 0, ex8.stderr);
  assert.ok(sig.classNames.includes(ex8.stdout.split('\n')[0].split('\t')[0]), ex8.stdout);
  t.diagnostic(
    `image ${pick} (${expected}): fp32 example says "${ex.stdout.split('\n')[0]}", int8 "${ex8.stdout.split('\n')[0]}"`,
  );
});

test('distill export fails clearly for a missing run and a bad option', () => {
  const home = path.join(work, 'empty-home');
  const missing = distill(['export', 'no-such-run', '--home', home, '--out', path.join(work, 'x')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no run with id no-such-run; `distill runs` lists them/);
  const bad = distill(['export', 'r', '--home', home, '--out', path.join(work, 'x'), '--precisions', 'fp32,int4']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown precision "int4"/);
  const noOut = distill(['export', 'r', '--home', home]);
  assert.equal(noOut.code, 2);
});
