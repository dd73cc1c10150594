/** The tf-serving adapter against the teacher server's TF Serving routes, plus a fixture for multi-output signatures. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTeacherServer, type TeacherServer } from '../../src-main/teacher-server/start-teacher-server.ts';
import type { ServedModel } from '../../src-main/teacher-server/served-model.ts';
import { openTeacher } from '../../src-main/teachers/index.ts';
import { TeacherClient } from '../../src-main/teachers/teacher-client.ts';
import { QueryBudget } from '../../src-main/teachers/query-budget.ts';
import { TeacherResponseError } from '../../src-main/teachers/responses.ts';
import { testImages, sharedModel, manifestInput, PER } from './fixtures/teacher-fixtures.ts';
import { startFixtureServer } from './fixtures/fixture-server.ts';

let model: ServedModel;
const N = 40;
before(async () => {
  model = await sharedModel();
});
after(() => model.close());

const settings = (url: string, extra: Record<string, unknown> = {}) => ({
  url,
  modelName: 'fashion-mnist-cnn',
  input: manifestInput(),
  timeoutMs: 5000,
  ...extra,
});

async function run(server: TeacherServer | { url: string }, extra: Record<string, unknown>) {
  const teacher = await openTeacher('tf-serving', settings(server.url, extra));
  const budget = new QueryBudget(500);
  const client = new TeacherClient(teacher, budget, { maxBatch: 16, backoffMs: 5 });
  const x = testImages(N);
  return { teacher, budget, reply: await client.label(x.images, N, PER).catch((e: Error) => e) };
}

test('row and column forms agree; top-k and top-1 signatures are read', async () => {
  const server = await startTeacherServer({ model, protocols: ['tf-serving'] });
  try {
    const row = await run(server, { responseKind: 'logits' });
    const col = await run(server, { responseKind: 'logits', form: 'column' });
    assert.equal(row.teacher.info.numClasses, 10, 'class count from the metadata');
    assert.deepEqual((col.reply as { logits: Float32Array }).logits, (row.reply as { logits: Float32Array }).logits);
    assert.equal(server.stats().samplesReceived, 2 * N);
    const top1 = Array.from((row.reply as { top1: Int32Array }).top1);
    await server.close();
    for (const response of ['top-k', 'top-1'] as const) {
      const s = await startTeacherServer({ model, protocols: ['tf-serving'], response });
      try {
        const r = await run(s, { numClasses: 10, responseKind: response });
        assert.deepEqual(Array.from((r.reply as { top1: Int32Array }).top1), top1);
      } finally {
        await s.close();
      }
    }
  } finally {
    await server.close();
  }
});

test('a bare NaN in the reply is parsed and then rejected clearly; the samples are charged', async () => {
  const server = await startTeacherServer({
    model,
    protocols: ['tf-serving'],
    faults: (n) => (n === 1 ? { nan: true } : undefined),
  });
  try {
    const r = await run(server, { responseKind: 'logits' });
    assert.ok(r.reply instanceof TeacherResponseError);
    assert.match(r.reply.message, /row 0: non-finite logit NaN/);
    assert.equal(r.budget.spent, 16);
  } finally {
    await server.close();
  }
});

test('multi-output rows ({probabilities, classes}) with Infinity, without metadata access', async () => {
  let poison = false;
  const fx = await startFixtureServer((req) => {
    if (req.path.endsWith('/metadata')) return { status: 404, body: '{"error": "metadata disabled"}' };
    const { instances } = JSON.parse(req.body.toString()) as { instances: number[][][][] };
    const rows = instances.map(
      (_, i) => `{"probabilities": [${poison && i === 1 ? 'Infinity' : '0.25'}, 0.75], "classes": [0, 1]}`,
    );
    return { body: `{"predictions": [${rows.join(', ')}]}` };
  });
  try {
    const ok = await run(fx, { numClasses: 2, responseKind: 'probabilities', outputKey: 'probabilities' });
    assert.deepEqual(Array.from((ok.reply as { top1: Int32Array }).top1.slice(0, 3)), [1, 1, 1]);
    poison = true;
    const bad = await run(fx, { numClasses: 2, responseKind: 'probabilities', outputKey: 'probabilities' });
    assert.ok(bad.reply instanceof TeacherResponseError);
    assert.match(bad.reply.message, /row 1: probability Infinity outside \[0, 1\]/);
  } finally {
    await fx.close();
  }
});
