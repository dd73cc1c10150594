import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { kdKlLoss, softCrossEntropy } from '../../src-main/methods/losses.ts';
import { softTargets, hardTargets } from '../../src-main/methods/soft-targets.ts';
import type { TeacherResponses } from '../../src-main/teachers/responses.ts';

before(async () => {
  await tf.setBackend('cpu');
});

const close = (a: number, b: number, tol = 1e-5) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

test('kd KL loss matches hand-computed values', () => {
  // Row 1: uniform student (s/T = 0), one-hot target → KL = ln 3, times T² = 4.
  // Row 2: s/T = [0, ln 2, 0] gives softmax [1/4, 1/2, 1/4], equal to the target → KL = 0.
  // Batch mean = 4·ln 3 / 2 = 2·ln 3.
  const T = 2;
  const s = tf.tensor2d([
    [0, 0, 0],
    [0, T * Math.log(2), 0],
  ]);
  const q = tf.tensor2d([
    [1, 0, 0],
    [0.25, 0.5, 0.25],
  ]);
  close(kdKlLoss(s, q, T).dataSync()[0], 2 * Math.log(3));
});

test('soft cross-entropy matches hand-computed values', () => {
  // −ln(1/3) and −ln(1/2): mean = (ln 3 + ln 2) / 2 = ln 6 / 2.
  const s = tf.tensor2d([
    [0, 0, 0],
    [0, Math.log(2), 0],
  ]);
  const q = tf.tensor2d([
    [1, 0, 0],
    [0, 1, 0],
  ]);
  close(softCrossEntropy(s, q).dataSync()[0], Math.log(6) / 2);
});

test('kd KL gradient vanishes when the student matches the target', () => {
  const T = 4;
  const q = tf.tensor2d([[0.25, 0.5, 0.25]]);
  const g = tf.grad((s: tf.Tensor) => kdKlLoss(s as tf.Tensor2D, q, T))(tf.tensor2d([[0, T * Math.log(2), 0]]));
  for (const v of g.dataSync()) close(v, 0, 1e-6);
});

const base = { count: 1, numClasses: 2, top1: Int32Array.from([0]) };

test('temperature on probabilities equals temperature on logits (methods.md identity)', () => {
  // p = softmax([ln 4, 0]) = [0.8, 0.2]; at T = 2 both give softmax([ln 2, 0]) = [2/3, 1/3].
  const fromProbs = softTargets({ ...base, kind: 'probabilities', probs: Float32Array.from([0.8, 0.2]) }, 2);
  const fromLogits = softTargets({ ...base, kind: 'logits', logits: Float32Array.from([Math.log(4), 0]) }, 2);
  close(fromProbs.values[0], 2 / 3);
  close(fromProbs.values[1], 1 / 3);
  close(fromLogits.values[0], 2 / 3);
  close(fromLogits.values[1], 1 / 3);
  assert.equal(fromProbs.source, 'probabilities');
});

test('top-k replies spread the hidden mass evenly', () => {
  const r: TeacherResponses = {
    kind: 'top-k',
    count: 1,
    numClasses: 4,
    top1: Int32Array.from([2]),
    topk: { k: 2, indices: Int32Array.from([2, 0]), scores: Float32Array.from([0.6, 0.2]) },
  };
  const t = softTargets(r, 1);
  [0.2, 0.1, 0.6, 0.1].forEach((v, i) => close(t.values[i], v));
});

test('top-1 replies become one-hot targets, whatever the temperature', () => {
  const r: TeacherResponses = { kind: 'top-1', count: 2, numClasses: 3, top1: Int32Array.from([2, 0]) };
  assert.deepEqual([...softTargets(r, 4).values], [0, 0, 1, 1, 0, 0]);
  assert.equal(softTargets(r, 4).source, 'one-hot top-1');
  assert.deepEqual([...hardTargets(r)], [0, 0, 1, 1, 0, 0]);
});
