/** The Evaluate step's figures from logits and labels, on a case small enough to work out by hand. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classificationReport } from '../../src-main/training/evaluate.ts';

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

test('classificationReport: confusion, per-class accuracy, calibration bins and ECE; unlabelled images only predicted', () => {
  // Two classes. Image 0: sure of 0, right. Image 1: 0 at σ(1) ≈ 0.73, wrong (label 1).
  // Image 2: sure of 1, right. Image 3: unlabelled (−1), so in no figure.
  const logits = new Float32Array([2, 0, 1, 0, 0, 3, 5, 0]);
  const r = classificationReport(logits, new Int32Array([0, 1, 1, -1]), 4);
  assert.deepEqual([...r.predicted], [0, 0, 1, 0]);
  assert.deepEqual(r.confusion, [
    [1, 0],
    [1, 1],
  ]);
  assert.deepEqual(r.perClass, [
    { accuracy: 1, count: 1 },
    { accuracy: 0.5, count: 2 },
  ]);
  assert.equal(r.accuracy, 2 / 3);
  assert.equal(r.calibration.length, 10);
  assert.deepEqual(
    r.calibration.map((b) => b.count),
    [0, 0, 0, 0, 0, 0, 0, 1, 1, 1],
  );
  assert.deepEqual(
    r.calibration.map((b) => b.accuracy),
    [0, 0, 0, 0, 0, 0, 0, 0, 1, 1],
  );
  assert.ok(Math.abs(r.calibration[7].confidence - sigmoid(1)) < 1e-6);
  assert.ok(Math.abs(r.calibration[9].confidence - sigmoid(3)) < 1e-6);
  assert.equal(r.calibration[9].lo, 0.9);
  assert.equal(r.calibration[9].hi, 1);
  const ece = (sigmoid(1) + (1 - sigmoid(2)) + (1 - sigmoid(3))) / 3;
  assert.ok(Math.abs(r.ece - ece) < 1e-6, `ece ${r.ece}, expected ${ece}`);
});

test('classificationReport: no labelled image gives zeros, not NaN', () => {
  const r = classificationReport(new Float32Array([1, 0, 0, 1]), new Int32Array([-1, -1]), 2);
  assert.equal(r.accuracy, 0);
  assert.equal(r.ece, 0);
  assert.deepEqual(r.perClass, [
    { accuracy: 0, count: 0 },
    { accuracy: 0, count: 0 },
  ]);
});
