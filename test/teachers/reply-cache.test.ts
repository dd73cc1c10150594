import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  encodeReply,
  decodeReply,
  splitReplies,
  joinReplies,
  sampleKeys,
  MemoryReplyCache,
} from '../../src-main/teachers/reply-cache.ts';
import { responsesFromLogits, degradeResponses } from '../../src-main/teachers/responses.ts';

const logits = responsesFromLogits(Float32Array.from([0.5, -1, 2, 3, 0, -2]), 3);

test('every response kind survives split → encode → decode → join bit for bit', () => {
  for (const r of [
    logits,
    degradeResponses(logits, 'probabilities'),
    degradeResponses(logits, 'top-k', 2),
    degradeResponses(logits, 'top-1'),
  ]) {
    const back = joinReplies(splitReplies(r).map((x) => decodeReply(encodeReply(x))));
    assert.deepEqual(back, { ...r, probs: r.probs, logits: r.logits, topk: r.topk });
  }
});

test('a blob of the wrong size or version is refused, not misread', () => {
  const b = encodeReply(splitReplies(logits)[0]);
  assert.throws(() => decodeReply(b.subarray(0, b.length - 1)), /expected/);
  const v = Buffer.from(b);
  v[0] = 9;
  assert.throws(() => decodeReply(v), /unknown format/);
});

test("keys hash each sample's exact bytes; the memory cache is per teacher identity", () => {
  const x = Float32Array.from([0.1, 0.2, 0.1, 0.2, 0.1, 0.2000001]);
  const [a, b, c] = sampleKeys(x, 3, 2);
  assert.equal(a, b);
  assert.notEqual(a, c);
  assert.match(a, /^[0-9a-f]{64}$/);
  const cache = new MemoryReplyCache();
  const [r0] = splitReplies(logits);
  cache.putMany('t1', [{ key: a, reply: r0 }]);
  assert.deepEqual(cache.getMany('t1', [a, c]), [r0, undefined]);
  assert.deepEqual(cache.getMany('t2', [a]), [undefined]);
});

test('replies of different kinds refuse to join', () => {
  const [x] = splitReplies(logits);
  const [y] = splitReplies(degradeResponses(logits, 'top-1'));
  assert.throws(() => joinReplies([x, y]), /inconsistent/);
});
