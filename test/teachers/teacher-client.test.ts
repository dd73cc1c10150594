/**
 * The client's guarantees with many requests in flight, against an in-process teacher that
 * records what it receives (the loopback-server tests cover the same over real HTTP).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TeacherClient } from '../../src-main/teachers/teacher-client.ts';
import { QueryBudget, TeacherBudgetExceededError } from '../../src-main/teachers/query-budget.ts';
import { MemoryReplyCache, sampleKeys } from '../../src-main/teachers/reply-cache.ts';
import { responsesFromLogits } from '../../src-main/teachers/responses.ts';
import {
  TeacherServerError,
  TeacherCircuitOpenError,
  TeacherRateLimitedError,
  TeacherAuthError,
} from '../../src-main/teachers/errors.ts';
import { seededRandom } from '../../src-main/teacher-server/seeded-random.ts';
import type { Teacher, TeacherInfo } from '../../src-main/teachers/teacher.ts';

const PER = 4;
const C = 3;

/** A teacher over 2×2 single-channel images; class scores derived from the pixels. */
class FakeTeacher implements Teacher {
  readonly info: TeacherInfo = {
    id: 'fake:1:logits',
    protocol: 'fake',
    name: 'fake',
    responseKind: 'logits',
    numClasses: C,
    input: { shape: [-1, 1, 2, 2], layout: 'NCHW', dtype: 'float32', scale: [0, 1] },
  };
  inFlight = 0;
  maxInFlightSamples = 0;
  received: string[] = [];
  calls = 0;
  constructor(
    private readonly budget: () => QueryBudget,
    private readonly fault: (call: number) => Error | undefined = () => undefined,
  ) {}
  async query(): Promise<never> {
    throw new Error('the client must send prepared input');
  }
  async queryPrepared(input: Float32Array, count: number) {
    const call = ++this.calls;
    this.inFlight += count;
    this.maxInFlightSamples = Math.max(this.maxInFlightSamples, this.inFlight);
    // The hard limit, checked where it matters: at the moment samples reach the teacher.
    assert.ok(this.budget().spent + this.budget().inFlight <= this.budget().limit);
    try {
      await new Promise((r) => setTimeout(r, 2 + (call % 3)));
      const err = this.fault(call);
      if (err) throw err;
      this.received.push(...sampleKeys(input, count, PER));
      const logits = new Float32Array(count * C);
      for (let i = 0; i < count; i++) for (let c = 0; c < C; c++) logits[i * C + c] = input[i * PER + c] * (c + 1);
      return responsesFromLogits(logits, C);
    } finally {
      this.inFlight -= count;
    }
  }
  async close() {}
}

function images(n: number, seed = 1): Float32Array {
  const rnd = seededRandom(seed);
  return Float32Array.from({ length: n * PER }, () => rnd());
}

const fast = { backoffMs: 1, maxBackoffMs: 4, random: () => 0.5 };

test('with 8 requests in flight the budget is never exceeded, and is spent exactly', async () => {
  const budget = new QueryBudget(100);
  const t = new FakeTeacher(() => budget);
  const client = new TeacherClient(t, budget, { maxBatch: 7, concurrency: 8, ...fast });
  const progress: number[] = [];
  const r = await client.label(images(100), 100, PER, (p) => progress.push(p.done));
  assert.equal(r.count, 100);
  assert.equal(budget.spent, 100);
  assert.equal(budget.inFlight, 0);
  assert.equal(t.received.length, 100);
  assert.ok(t.maxInFlightSamples > 7, 'requests really overlapped');
  assert.equal(progress.at(-1), 100);
  await assert.rejects(client.label(images(1, 99), 1, PER), TeacherBudgetExceededError);
  assert.equal(t.received.length, 100, 'nothing is sent once the budget is spent');
});

test('cached and repeated inputs spend nothing; replies come back in input order', async () => {
  const budget = new QueryBudget(1000);
  const t = new FakeTeacher(() => budget);
  const cache = new MemoryReplyCache();
  const client = new TeacherClient(t, budget, { maxBatch: 16, concurrency: 3, cache, ...fast });
  const x = images(50);
  const first = await client.label(x, 50, PER);
  // Same 50 again plus 10 new, with one image repeated inside the call.
  const more = new Float32Array(61 * PER);
  more.set(x);
  more.set(images(10, 5), 50 * PER);
  more.set(x.subarray(0, PER), 60 * PER);
  const second = await client.label(more, 61, PER);
  assert.equal(budget.spent, 60);
  assert.equal(new Set(t.received).size, t.received.length, 'no sample sent twice');
  assert.deepEqual(second.logits!.subarray(0, 50 * C), first.logits);
  assert.deepEqual(second.logits!.subarray(60 * C), first.logits!.subarray(0, C));
  assert.equal(client.cacheHits, 51);
});

test('transient failures are retried; samples that may have been processed are charged exactly', async () => {
  const budget = new QueryBudget(1000);
  // Calls 2 and 3 fail with 500 (maybe processed: charged); call 5 with 429 (refused: not charged).
  const t = new FakeTeacher(
    () => budget,
    (n) =>
      n === 2 || n === 3 ? new TeacherServerError(500, 'boom') : n === 5 ? new TeacherRateLimitedError(5) : undefined,
  );
  const retries: string[] = [];
  const client = new TeacherClient(t, budget, {
    maxBatch: 10,
    concurrency: 1,
    onRetry: (r) => retries.push(r.error.name),
    ...fast,
  });
  const r = await client.label(images(40), 40, PER);
  assert.equal(r.count, 40);
  assert.deepEqual(retries, ['TeacherServerError', 'TeacherServerError', 'TeacherRateLimitedError']);
  assert.equal(budget.spent, 40 + 2 * 10, 'two failed 500 attempts of 10 samples are charged, the 429 is not');
  assert.equal(client.requests, 7);
});

test('the circuit opens after repeated failures; a resume re-sends nothing already answered', async () => {
  const budget = new QueryBudget(1000);
  let down = false;
  const t = new FakeTeacher(
    () => budget,
    (n) => (down || n >= 4 ? ((down = true), new TeacherServerError(503, 'down')) : undefined),
  );
  const cache = new MemoryReplyCache();
  const client = new TeacherClient(t, budget, { maxBatch: 10, concurrency: 1, circuitThreshold: 3, cache, ...fast });
  const x = images(60);
  await assert.rejects(client.label(x, 60, PER), TeacherCircuitOpenError);
  assert.equal(t.received.length, 30);
  assert.ok(client.circuitOpen);
  await assert.rejects(client.label(x, 60, PER), TeacherCircuitOpenError, 'an open circuit sends nothing');
  down = false;
  const resumed = new TeacherClient(new FakeTeacher(() => budget), budget, { maxBatch: 10, cache, ...fast });
  const r = await resumed.label(x, 60, PER);
  assert.equal(r.count, 60);
  assert.equal(resumed.sent, 30, 'only the 30 unanswered samples are sent on resume');
});

test('permanent errors are not retried', async () => {
  const budget = new QueryBudget(100);
  const t = new FakeTeacher(
    () => budget,
    () => new TeacherAuthError(401, ''),
  );
  const client = new TeacherClient(t, budget, { ...fast });
  await assert.rejects(client.label(images(5), 5, PER), TeacherAuthError);
  assert.equal(t.calls, 1);
  assert.equal(budget.spent, 0);
  assert.equal(budget.inFlight, 0);
});
