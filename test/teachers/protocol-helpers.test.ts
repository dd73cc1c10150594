import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRetryAfter } from '../../src-main/teachers/retry-after.ts';
import { parseJsonReply } from '../../src-main/teachers/json-reply.ts';
import { evalJsonPath } from '../../src-main/teachers/json-path.ts';
import { floatToHalf, halfToFloat, decodeRaw, flattenNumbers } from '../../src-main/teachers/tensor-data.ts';
import { joinBinaryBody, splitBinaryBody, sliceBinaryTensors } from '../../src-main/teachers/kserve-binary.ts';
import { backoffDelay } from '../../src-main/teachers/backoff.ts';
import { detectScoreKind } from '../../src-main/teachers/score-replies.ts';
import { authHeaders } from '../../src-main/teachers/auth.ts';
import { TeacherAuthError, TeacherMalformedReplyError } from '../../src-main/teachers/errors.ts';

test('Retry-After is read as seconds or as an HTTP date', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(parseRetryAfter('7', now), 7000);
  assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:03 GMT', now), 3000);
  assert.equal(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now), 0);
  assert.equal(parseRetryAfter('soon', now), undefined);
  assert.equal(parseRetryAfter(null, now), undefined);
});

test('bare NaN and Infinity are read as numbers, never inside strings; garbage is a malformed reply', () => {
  const v = parseJsonReply('{"predictions": [[NaN, 1, -Infinity, Infinity]], "note": "NaN stays a string"}') as {
    predictions: number[][];
    note: string;
  };
  assert.ok(Number.isNaN(v.predictions[0][0]));
  assert.deepEqual(v.predictions[0].slice(1), [1, -Infinity, Infinity]);
  assert.equal(v.note, 'NaN stays a string');
  assert.throws(() => parseJsonReply('{"outputs": [1, 2'), TeacherMalformedReplyError);
});

test('reply paths: fields, indices, quoted keys and [*]', () => {
  const doc = { result: { items: [{ probs: [0.1, 0.9] }, { probs: [1, 0] }] }, 'odd key': [5] };
  assert.deepEqual(evalJsonPath(doc, '$.result.items[*].probs'), [
    [0.1, 0.9],
    [1, 0],
  ]);
  assert.deepEqual(evalJsonPath(doc, "$['odd key'][0]"), 5);
  assert.throws(() => evalJsonPath(doc, '$.result.nope'), /no field "nope"/);
  assert.throws(() => evalJsonPath(doc, 'result'), /must start with \$/);
});

test('FP16 round-trips within half precision, and raw bytes decode per datatype', () => {
  for (const v of [0, 1, -2.5, 0.1, 65504, 1e-5, -Infinity]) {
    const back = halfToFloat(floatToHalf(v));
    assert.ok(back === v || Math.abs(back - v) <= Math.abs(v) * 1e-3 + 6e-8, `${v} → ${back}`);
  }
  assert.ok(Number.isNaN(halfToFloat(floatToHalf(NaN))));
  const b = Buffer.alloc(16);
  b.writeBigInt64LE(7n, 0);
  b.writeBigInt64LE(-1n, 8);
  assert.deepEqual(Array.from(decodeRaw(b, 'INT64', 'x')), [7, -1]);
  assert.throws(() => decodeRaw(b.subarray(0, 6), 'FP32', 'x'), /whole number/);
  assert.deepEqual(
    flattenNumbers(
      [
        [1, 2],
        [3, [4]],
      ],
      'x',
    ),
    [1, 2, 3, 4],
  );
});

test('binary tensor bodies: header length and per-tensor sizes must account for every byte', () => {
  const { body, headerLength } = joinBinaryBody(
    {
      outputs: [
        { name: 'a', parameters: { binary_data_size: 4 } },
        { name: 'b', parameters: { binary_data_size: 2 } },
      ],
    },
    [Buffer.from([1, 2, 3, 4]), Buffer.from([5, 6])],
  );
  const { json, rest } = splitBinaryBody(body, String(headerLength));
  const outs = (json as { outputs: { parameters: Record<string, unknown> }[] }).outputs;
  const slices = sliceBinaryTensors(outs, rest);
  assert.deepEqual([...slices.get(outs[1])!], [5, 6]);
  assert.throws(() => sliceBinaryTensors(outs, rest.subarray(0, 5)), /does not fit/);
  assert.throws(() => splitBinaryBody(body, String(body.length + 1)), /body has/);
});

test('backoff grows exponentially, is capped, and jitters within [d/2, d]', () => {
  assert.equal(
    backoffDelay(0, 100, 1000, () => 0),
    50,
  );
  assert.equal(
    backoffDelay(3, 100, 1000, () => 1),
    800,
  );
  assert.equal(
    backoffDelay(10, 100, 1000, () => 1),
    1000,
  );
});

test('score kind detection: probability rows versus anything else', () => {
  assert.equal(detectScoreKind([0.2, 0.8, 0.5, 0.5], 2), 'probabilities');
  assert.equal(detectScoreKind([0.2, 0.8, 2, -1], 2), 'logits');
  assert.equal(detectScoreKind([0.2, 0.7], 2), 'logits');
});

test('a token comes from the named environment variable, and is redacted from every teacher error', () => {
  assert.throws(
    () => authHeaders({ scheme: 'bearer', env: 'DISTILL_TEST_NO_SUCH_VAR' }, {}),
    /DISTILL_TEST_NO_SUCH_VAR is not set/,
  );
  const token = 'sk-test-7f3a9c1e5b';
  assert.deepEqual(authHeaders({ scheme: 'bearer', env: 'T' }, { T: token }), { authorization: `Bearer ${token}` });
  assert.deepEqual(authHeaders({ scheme: 'api-key', token }), { 'x-api-key': token });
  const err = new TeacherAuthError(401, `token ${token} expired`);
  assert.ok(!err.message.includes(token));
  assert.match(err.message, /token \[REDACTED\] expired/);
});
