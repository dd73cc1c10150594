/**
 * The kserve-v2 adapter and the client against the project's own teacher server on loopback,
 * with faults injected per request. In every case the budget spent equals the samples the server
 * received at the model stage (its /stats), and answered replies are never lost.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startTeacherServer,
  type TeacherServer,
  type TeacherServerFault,
} from '../../src-main/teacher-server/start-teacher-server.ts';
import type { ServedModel } from '../../src-main/teacher-server/served-model.ts';
import { openTeacher } from '../../src-main/teachers/index.ts';
import { TeacherClient, type TeacherClientOptions } from '../../src-main/teachers/teacher-client.ts';
import { QueryBudget } from '../../src-main/teachers/query-budget.ts';
import { MemoryReplyCache } from '../../src-main/teachers/reply-cache.ts';
import { OnnxLocalTeacher } from '../../src-main/teachers/onnx-local-teacher.ts';
import { TeacherResponseError } from '../../src-main/teachers/responses.ts';
import {
  TeacherAuthError,
  TeacherRequestRejectedError,
  TeacherCircuitOpenError,
} from '../../src-main/teachers/errors.ts';
import { testImages, sharedModel, kserveSettings, MANIFEST, PER } from './fixtures/teacher-fixtures.ts';

let model: ServedModel;
let reference: Float32Array;
const N = 60;
const fast: TeacherClientOptions = { backoffMs: 5, maxBackoffMs: 20, random: () => 0.5 };

before(async () => {
  model = await sharedModel();
  const local = await OnnxLocalTeacher.open({ model: MANIFEST, responseKind: 'logits' });
  reference = (await local.query(testImages(N).images, N)).logits!;
  await local.close();
});
after(() => model.close());

async function withServer<T>(
  opts: {
    faults?: (n: number) => TeacherServerFault | undefined;
    token?: string;
    response?: 'logits' | 'probs' | 'top-k' | 'top-1';
    fp16?: boolean;
  },
  fn: (s: TeacherServer) => Promise<T>,
): Promise<T> {
  const server = await startTeacherServer({ model, ...opts });
  try {
    return await fn(server);
  } finally {
    await server.close();
  }
}

async function label(
  server: TeacherServer,
  settings: Record<string, unknown>,
  opts: TeacherClientOptions = {},
  budget = new QueryBudget(1000),
) {
  const teacher = await openTeacher('kserve-v2', kserveSettings(server.url, settings));
  const client = new TeacherClient(teacher, budget, { maxBatch: 16, ...fast, ...opts });
  const x = testImages(N);
  const reply = await client.label(x.images, N, PER).catch((err: Error) => err);
  return { teacher, client, budget, reply };
}

function assertClose(a: Float32Array, b: Float32Array, tol: number) {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol, `index ${i}: ${a[i]} vs ${b[i]}`);
}

test("JSON, binary and FP16 bodies give the local model's logits; the kind and class count are probed once", async () => {
  await withServer({}, async (s) => {
    const json = await label(s, {});
    assert.equal(json.teacher.info.responseKind, 'logits');
    assert.equal(json.teacher.info.numClasses, 10);
    assert.equal(json.teacher.info.openQueries, 1);
    assertClose((json.reply as { logits: Float32Array }).logits, reference, 1e-4);
    const bin = await label(s, { binary: true, responseKind: 'logits' });
    assertClose((bin.reply as { logits: Float32Array }).logits, reference, 1e-4);
    assert.equal(s.stats().samplesReceived, 1 + 2 * N);
  });
  await withServer({ fp16: true }, async (s) => {
    for (const binary of [false, true]) {
      const r = await label(s, { binary, responseKind: 'logits' });
      assertClose((r.reply as { logits: Float32Array }).logits, reference, 0.02);
    }
  });
});

test('probabilities, top-k (classification extension) and top-1 (INT64) replies', async () => {
  const top1 = Array.from(
    ((await withServer({}, async (s) => (await label(s, { responseKind: 'logits' })).reply)) as { top1: Int32Array })
      .top1,
  );
  await withServer({ response: 'probs' }, async (s) => {
    const r = await label(s, {});
    assert.equal(r.teacher.info.responseKind, 'probabilities', 'detected from the probe');
    assert.deepEqual(Array.from((r.reply as { top1: Int32Array }).top1), top1);
  });
  await withServer({ response: 'top-k' }, async (s) => {
    const r = await label(s, { numClasses: 10, topK: 3 });
    const reply = r.reply as { kind: string; topk: { k: number; indices: Int32Array } };
    assert.equal(reply.kind, 'top-k');
    assert.equal(reply.topk.k, 3);
    assert.deepEqual(Array.from(reply.topk.indices.filter((_, i) => i % 3 === 0)), top1);
  });
  await withServer({ response: 'top-1' }, async (s) => {
    const r = await label(s, { numClasses: 10 });
    assert.equal(r.teacher.info.responseKind, 'top-1', 'INT64 output in the metadata says top-1');
    assert.equal(r.teacher.info.openQueries, 0);
    assert.deepEqual(Array.from((r.reply as { top1: Int32Array }).top1), top1);
  });
});

test('401: a clear error without the token, nothing spent; the right token (bearer or api-key) works', async () => {
  const token = 'tok-5d1f0b2a9e7c';
  await withServer({ token }, async (s) => {
    const err = await openTeacher(
      'kserve-v2',
      kserveSettings(s.url, { auth: { scheme: 'bearer', token: 'tok-wrong-000000' } }),
    ).catch((e: Error) => e);
    assert.ok(err instanceof TeacherAuthError);
    assert.match(err.message, /HTTP 401.*renew the token/);
    assert.ok(!err.message.includes('tok-wrong-000000'));
    process.env.DISTILL_TEST_TEACHER_TOKEN = token;
    const r = await label(s, {
      responseKind: 'logits',
      auth: { scheme: 'api-key', env: 'DISTILL_TEST_TEACHER_TOKEN' },
    });
    assert.equal((r.reply as { count: number }).count, N);
    assert.equal(s.stats().byStatus['401'], 1);
  });
});

test('429 with Retry-After in seconds and as an HTTP date is honoured; refused samples are not charged', async () => {
  const faults = (n: number): TeacherServerFault | undefined =>
    n === 1
      ? { status: 429, retryAfter: '1' }
      : n === 3
        ? { status: 429, retryAfter: new Date(Date.now() + 1000).toUTCString() }
        : undefined;
  await withServer({ faults }, async (s) => {
    const t0 = performance.now();
    const r = await label(s, { responseKind: 'logits' });
    assert.ok(performance.now() - t0 >= 950, 'waited for Retry-After: 1');
    assertClose((r.reply as { logits: Float32Array }).logits, reference, 1e-4);
    assert.equal(s.stats().byStatus['429'], 2);
    assert.equal(r.budget.spent, N);
    assert.equal(s.stats().samplesReceived, N);
  });
});

test('a 500 storm, a timeout, a truncated body, a reset and garbage are retried; the budget equals what the server received', async () => {
  const plan: Record<number, TeacherServerFault> = {
    1: { status: 500 },
    2: { status: 503 },
    3: { status: 500 },
    4: { delayMs: 600 },
    5: { truncate: true },
    6: { reset: true },
    7: { garbage: true },
  };
  await withServer({ faults: (n) => plan[n] }, async (s) => {
    const r = await label(s, { responseKind: 'logits', timeoutMs: 300 }, { concurrency: 2, retries: 6 });
    assertClose((r.reply as { logits: Float32Array }).logits, reference, 1e-4);
    const st = s.stats();
    assert.equal(r.budget.spent, st.samplesReceived, 'every attempt the server may have run is charged, nothing else');
    assert.ok(r.budget.spent > N);
    assert.equal(r.client.failedRequests, 7);
    assert.equal(r.budget.inFlight, 0);
  });
});

test('a wrong row count, NaN or a changed class count is a clear error, charged, not retried and not cached', async () => {
  for (const [fault, message] of [
    [{ dropRow: true }, /15 row\(s\) for 16/],
    [{ nan: true }, /non-finite logit/],
  ] as const) {
    for (const binary of [false, true]) {
      await withServer({ faults: (n) => (n === 2 ? fault : undefined) }, async (s) => {
        const cache = new MemoryReplyCache();
        const r = await label(s, { responseKind: 'logits', binary }, { cache, retries: 3 });
        assert.ok(r.reply instanceof TeacherResponseError, String(r.reply));
        assert.match(r.reply.message, message);
        assert.equal(s.stats().inferRequests, 2, 'not retried, and nothing sent after it');
        assert.equal(r.budget.spent, 32);
        assert.equal(cache.size, 16, 'the good first batch is kept, the bad one is not');
      });
    }
  }
});

test('404 and 400 are clear errors, never retried', async () => {
  await withServer({}, async (s) => {
    const err = await openTeacher('kserve-v2', kserveSettings(s.url, { modelName: 'no-such-model' })).catch(
      (e: Error) => e,
    );
    assert.ok(err instanceof TeacherRequestRejectedError);
    assert.match(err.message, /HTTP 404.*no-such-model/);
    const wrong = await label(s, {
      responseKind: 'logits',
      input: { shape: [-1, 1, 14, 56], layout: 'NCHW', scale: [0, 1] },
    });
    assert.ok(wrong.reply instanceof TeacherRequestRejectedError);
    assert.match(wrong.reply.message, /HTTP 400.*does not match/);
    assert.equal(wrong.budget.spent, 0);
    assert.equal(s.stats().byStatus['400'], 1);
  });
});

test('the circuit opens under persistent failure; after recovery a resume sends only the unanswered samples', async () => {
  let failing = false;
  await withServer(
    { faults: (n) => (failing || n === 3 ? ((failing = true), { status: 500 }) : undefined) },
    async (s) => {
      const cache = new MemoryReplyCache();
      const first = await label(s, { responseKind: 'logits' }, { cache, circuitThreshold: 4, retries: 10 });
      assert.ok(first.reply instanceof TeacherCircuitOpenError);
      assert.equal(cache.size, 32);
      failing = false;
      const before = s.stats().samplesServed;
      const resumed = await label(s, { responseKind: 'logits' }, { cache });
      assertClose((resumed.reply as { logits: Float32Array }).logits, reference, 1e-4);
      assert.equal(resumed.client.sent, N - 32);
      assert.equal(s.stats().samplesServed - before, N - 32);
    },
  );
});
