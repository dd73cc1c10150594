import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  degradeResponses,
  responsesFromLogits,
  concatResponses,
  TeacherResponseError,
} from '../../src-main/teachers/responses.ts';
import { validateResponses } from '../../src-main/teachers/validate-responses.ts';
import { QueryBudget, TeacherBudgetExceededError } from '../../src-main/teachers/query-budget.ts';
import { toTeacherInput, checkInputFits } from '../../src-main/teachers/preprocess.ts';

test('logits degrade to probabilities, top-k and top-1, never the other way', () => {
  const r = responsesFromLogits(Float32Array.from([0, 1, 2, 5, 0, 0]), 3);
  assert.deepEqual([...r.top1], [2, 0]);
  const p = degradeResponses(r, 'probabilities');
  assert.equal(p.logits, undefined);
  assert.ok(Math.abs(p.probs![0] + p.probs![1] + p.probs![2] - 1) < 1e-6);
  const k = degradeResponses(r, 'top-k', 2);
  assert.deepEqual([...k.topk!.indices], [2, 1, 0, 1]);
  assert.equal(k.probs, undefined);
  const one = degradeResponses(r, 'top-1');
  assert.equal(one.probs, undefined);
  assert.throws(() => degradeResponses(one, 'probabilities'), TeacherResponseError);
});

test('replies are validated: row count, finiteness, probability range and sum, class count', () => {
  const ok = responsesFromLogits(Float32Array.from([0, 1, 2, 3]), 2);
  validateResponses(ok, 2, 2);
  assert.throws(() => validateResponses(ok, 3, 2), /2 row\(s\) for 3/);
  assert.throws(() => validateResponses(ok, 2, 3), /2 classes, earlier replies had 3/);
  const nan = { ...ok, logits: Float32Array.from([0, NaN, 2, 3]) };
  assert.throws(() => validateResponses(nan, 2, 2), /non-finite logit/);
  const badSum = {
    kind: 'probabilities' as const,
    count: 1,
    numClasses: 2,
    top1: Int32Array.from([0]),
    probs: Float32Array.from([0.7, 0.7]),
  };
  assert.throws(() => validateResponses(badSum, 1, 2), /sum to 1.4/);
  const neg = { ...badSum, probs: Float32Array.from([1.2, -0.2]) };
  assert.throws(() => validateResponses(neg, 1, 2), /outside \[0, 1\]/);
});

test('responses of several batches concatenate in order and must agree on kind and classes', () => {
  const a = responsesFromLogits(Float32Array.from([0, 1]), 2);
  const b = responsesFromLogits(Float32Array.from([3, 1, 0, 2]), 2);
  const c = concatResponses([a, b]);
  assert.equal(c.count, 3);
  assert.deepEqual([...c.top1], [1, 0, 1]);
  assert.throws(() => concatResponses([a, degradeResponses(b, 'top-1')]), /inconsistent/);
});

test('the query budget is a hard limit, and released reservations return', () => {
  const b = new QueryBudget(10);
  b.reserve(6);
  assert.throws(() => b.reserve(5), TeacherBudgetExceededError);
  b.commit(4);
  b.release(2);
  assert.equal(b.spent, 4);
  assert.equal(b.remaining, 6);
  b.reserve(6);
  assert.throws(() => b.reserve(1), /1 more sample\(s\) requested, 0 of 10 left/);
});

test('inputs are scaled, normalised and laid out as the teacher declares', () => {
  // Two pixels × two channels, NHWC: [p0c0, p0c1, p1c0, p1c1].
  const img = Float32Array.from([0, 1, 0.5, 0.25]);
  const out = toTeacherInput(
    img,
    1,
    { height: 1, width: 2, channels: 2 },
    {
      shape: [-1, 2, 1, 2],
      layout: 'NCHW',
      dtype: 'float32',
      scale: [0, 255],
      mean: [0, 100],
      std: [1, 2],
    },
  );
  // NCHW: channel 0 plane then channel 1 plane; channel 1 is (255x − 100) / 2.
  assert.deepEqual([...out], [0, 127.5, (255 - 100) / 2, (63.75 - 100) / 2]);
  assert.throws(
    () =>
      checkInputFits(
        { shape: [-1, 1, 28, 28], layout: 'NCHW', dtype: 'float32', scale: [0, 1] },
        { height: 32, width: 32, channels: 3 },
      ),
    /32×32×3 but the teacher expects 28×28×1/,
  );
});
