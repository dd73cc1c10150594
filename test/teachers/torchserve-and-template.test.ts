/**
 * torchserve and http-json adapters against small fixture servers that run the real teacher
 * model: TorchServe-style {label: score} maps (JSON batches and raw PNG bodies), and a
 * hand-written API reached through a body template and a reply path.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import type { ServedModel } from '../../src-main/teacher-server/served-model.ts';
import { openTeacher } from '../../src-main/teachers/index.ts';
import { TeacherClient } from '../../src-main/teachers/teacher-client.ts';
import { QueryBudget } from '../../src-main/teachers/query-budget.ts';
import { softmaxRows } from '../../src-main/teachers/responses.ts';
import {
  TeacherAuthError,
  TeacherMalformedReplyError,
  TeacherCircuitOpenError,
} from '../../src-main/teachers/errors.ts';
import { testImages, sharedModel, manifestInput, PER } from './fixtures/teacher-fixtures.ts';
import { startFixtureServer, type FixtureServer } from './fixtures/fixture-server.ts';

let model: ServedModel;
let names: string[];
const N = 24;
const MEAN = 0.286;
const STD = 0.353;

before(async () => {
  model = await sharedModel();
  names = model.classNames!;
});
after(() => model.close());

async function probsOf(input: Float32Array, count: number): Promise<Float32Array> {
  return softmaxRows(await model.run(input, count), model.numClasses);
}

async function labelWith(protocol: string, settings: Record<string, unknown>, count = N) {
  const teacher = await openTeacher(protocol, { timeoutMs: 5000, ...settings });
  const budget = new QueryBudget(200);
  const client = new TeacherClient(teacher, budget, { maxBatch: 8, backoffMs: 5, retries: 2, circuitThreshold: 3 });
  const x = testImages(count);
  return { teacher, budget, client, reply: await client.label(x.images, count, PER).catch((e: Error) => e) };
}

test('torchserve: JSON batches answered with top-3 label maps, behind a bearer token', async () => {
  const fx: FixtureServer = await startFixtureServer(async (req) => {
    if (req.headers.authorization !== 'Bearer ts-key-3b8e1f')
      return { status: 401, body: '{"code": 401, "message": "Token Authorization failed"}' };
    const rows = JSON.parse(req.body.toString()) as number[][];
    const probs = await probsOf(Float32Array.from(rows.flat()), rows.length);
    return {
      body: JSON.stringify(
        rows.map((_, i) =>
          Object.fromEntries(
            Array.from(probs.subarray(i * 10, i * 10 + 10), (p, c) => [names[c], p] as const)
              .sort((a, b) => b[1] - a[1])
              .slice(0, 3),
          ),
        ),
      ),
    };
  });
  try {
    const bad = await labelWith('torchserve', {
      url: fx.url,
      modelName: 'fmnist',
      input: manifestInput(),
      classNames: names,
      responseKind: 'top-k',
      auth: { scheme: 'bearer', token: 'ts-key-wrong0' },
    });
    assert.ok(bad.reply instanceof TeacherAuthError);
    assert.match(bad.reply.message, /Token Authorization failed/);
    assert.equal(bad.budget.spent, 0);
    const ok = await labelWith('torchserve', {
      url: fx.url,
      modelName: 'fmnist',
      input: manifestInput(),
      classNames: names,
      auth: { scheme: 'bearer', token: 'ts-key-3b8e1f' },
    });
    const r = ok.reply as { kind: string; topk: { k: number }; top1: Int32Array };
    assert.equal(ok.teacher.info.responseKind, 'top-k', 'detected from the probe: 3 of 10 labels');
    assert.equal(r.topk.k, 3);
    const x = testImages(N);
    const agree = Array.from(r.top1).filter((c, i) => c === x.labels![i]).length;
    assert.ok(agree >= N - 4, `the teacher is good: ${agree}/${N}`);
    assert.match(fx.requests.at(-1)!.path, /^\/predictions\/fmnist$/);
  } finally {
    await fx.close();
  }
});

test('torchserve: raw PNG bodies, one image per request, full label maps read as probabilities', async () => {
  const fx = await startFixtureServer(async (req) => {
    assert.equal(req.headers['content-type'], 'image/png');
    const png = PNG.sync.read(req.body);
    const input = Float32Array.from({ length: PER }, (_, p) => (png.data[p * 4] / 255 - MEAN) / STD);
    const probs = await probsOf(input, 1);
    return { body: JSON.stringify(Object.fromEntries(Array.from(probs, (p, c) => [names[c], p]))) };
  });
  try {
    const input = { shape: [-1, 1, 28, 28], layout: 'NCHW', dtype: 'float32', scale: [0, 255] };
    const r = await labelWith(
      'torchserve',
      { url: fx.url, modelName: 'fmnist', body: 'raw', input, classNames: names, responseKind: 'probabilities' },
      10,
    );
    const reply = r.reply as { kind: string; probs: Float32Array; top1: Int32Array };
    assert.equal(reply.kind, 'probabilities');
    assert.equal(fx.requests.length, 10, 'one request per image');
    assert.equal(r.budget.spent, 10);
    assert.ok(Array.from(reply.top1).filter((c, i) => c === testImages(10).labels![i]).length >= 8);
  } finally {
    await fx.close();
  }
});

test('http-json: body template and reply path; truncated and malformed bodies are retried, then the circuit opens', async () => {
  let mode: 'ok' | 'broken' = 'ok';
  const fx = await startFixtureServer(async (req) => {
    assert.equal(req.headers['x-client'], 'distill-test');
    assert.equal(req.headers['x-api-key'], 'hj-secret-91aa');
    const body = JSON.parse(req.body.toString()) as { task: string; batch: { images: number[][][][] } };
    assert.equal(body.task, 'classify');
    const imgs = body.batch.images;
    if (mode === 'broken') return { body: '{"result": {"items": [{"probs": [0.1, 0.' };
    const probs = await probsOf(Float32Array.from(imgs.flat(3)), imgs.length);
    return {
      body: JSON.stringify({
        result: { items: imgs.map((_, i) => ({ probs: Array.from(probs.subarray(i * 10, i * 10 + 10)) })) },
      }),
    };
  });
  try {
    const settings = {
      url: `${fx.url}/api/classify`,
      input: manifestInput(),
      headers: { 'x-client': 'distill-test' },
      auth: { scheme: 'api-key', token: 'hj-secret-91aa' },
      bodyTemplate: { task: 'classify', batch: { images: '$batch' } },
      replyPath: '$.result.items[*].probs',
    };
    const ok = await labelWith('http-json', settings);
    assert.equal(ok.teacher.info.responseKind, 'probabilities');
    assert.equal(ok.teacher.info.numClasses, 10);
    assert.equal((ok.reply as { count: number }).count, N);
    mode = 'broken';
    const x = testImages(40).images.subarray(N * PER);
    const err = await ok.client.label(x, 16, PER).catch((e: Error) => e);
    assert.ok(err instanceof TeacherCircuitOpenError, String(err));
    assert.ok(err.cause instanceof TeacherMalformedReplyError);
    assert.match(err.message, /not valid JSON/);
    assert.equal(ok.budget.spent, N + 3 * 8, 'each malformed 200 reply was charged');
  } finally {
    await fx.close();
  }
});
