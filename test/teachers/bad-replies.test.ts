/**
 * Teachers that misbehave must not cost money twice or take the process down: a JSON reply with a
 * bare NaN, an HTML page with HTTP 200, a redirect that would carry the API key to another host, a
 * reply far larger than any inference reply. Each is a loopback server; each test counts what the
 * server received and what the budget charged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { openTeacher } from '../../src-main/teachers/index.ts';
import { TeacherClient } from '../../src-main/teachers/teacher-client.ts';
import { QueryBudget } from '../../src-main/teachers/query-budget.ts';
import { httpExchange } from '../../src-main/teachers/http-transport.ts';
import { TeacherRedirectError, TeacherUnreadableReplyError } from '../../src-main/teachers/errors.ts';
import { startFixtureServer, type FixtureReply, type FixtureServer } from './fixtures/fixture-server.ts';
import { kserveSettings, PER, testImages } from './fixtures/teacher-fixtures.ts';

const METADATA = JSON.stringify({
  name: 'fashion-mnist-cnn',
  inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 28, 28, 1] }],
  outputs: [{ name: 'logits', datatype: 'FP32', shape: [-1, 10] }],
});

/** A KServe v2 server whose metadata is right and whose infer replies are `onInfer`'s. */
function kserveFixture(onInfer: (req: FixtureServer['requests'][number]) => FixtureReply) {
  return startFixtureServer((req) => (req.method === 'GET' ? { body: METADATA } : onInfer(req)));
}

async function labelKserve(url: string, settings: Record<string, unknown> = {}) {
  const teacher = await openTeacher('kserve-v2', {
    ...kserveSettings(url, { responseKind: 'logits', numClasses: 10 }),
    timeoutMs: 5000,
    ...settings,
  });
  const budget = new QueryBudget(300);
  const client = new TeacherClient(teacher, budget, { maxBatch: 8, backoffMs: 5, retries: 4, circuitThreshold: 5 });
  const x = testImages(8);
  const result = await client.label(x.images, 8, PER).catch((e: Error) => e);
  return { budget, result };
}

function nanReply(count: number): string {
  const data = Array.from({ length: count * 10 }, (_, i) => (i === 3 ? 'NaN' : String(i % 10)));
  return `{"model_name":"fashion-mnist-cnn","outputs":[{"name":"logits","shape":[${count},10],"datatype":"FP32","data":[${data.join(',')}]}]}`;
}

test('kserve-v2: a JSON reply with a bare NaN is read as JSON, refused once, charged once, never retried', async () => {
  const fx = await kserveFixture((req) => {
    const body = JSON.parse(req.body.toString()) as { inputs: { shape: number[] }[] };
    return { body: nanReply(body.inputs[0].shape[0]) };
  });
  try {
    const { budget, result } = await labelKserve(fx.url);
    assert.ok(result instanceof Error, 'the run does not take NaN scores');
    assert.doesNotMatch(result.message, /binary|header/i, `no talk of binary framing: ${result.message}`);
    assert.match(result.message, /NaN|finite|not a number/i);
    const infers = fx.requests.filter((r) => r.path.endsWith('/infer'));
    assert.equal(infers.length, 1, 'sent once, not retried');
    assert.equal(budget.spent, 8, 'the one request that reached the model is charged, once');
  } finally {
    await fx.close();
  }
});

test('an HTML page answered with HTTP 200 is a clear error, sent once and charged once', async () => {
  const fx = await kserveFixture(() => ({
    headers: { 'content-type': 'text/html; charset=utf-8' },
    body: '<!doctype html><html><body><form action="/login">Sign in</form></body></html>',
  }));
  try {
    const { budget, result } = await labelKserve(fx.url);
    assert.ok(result instanceof TeacherUnreadableReplyError, String(result));
    assert.match(result.message, /text\/html.*not an inference reply/);
    assert.equal(fx.requests.filter((r) => r.path.endsWith('/infer')).length, 1);
    assert.equal(budget.spent, 8);
  } finally {
    await fx.close();
  }
});

test('a redirect is not followed: the API key never reaches the other host, and the error says where it pointed', async () => {
  const elsewhere = await startFixtureServer(() => ({ body: '{}' }));
  const fx = await kserveFixture((req) => ({
    status: 307,
    headers: { location: `${elsewhere.url}${req.path}` },
    body: '',
  }));
  try {
    const { budget, result } = await labelKserve(fx.url, { auth: { scheme: 'api-key', token: 'key-4f1c9a-secret' } });
    assert.ok(result instanceof TeacherRedirectError, String(result));
    assert.equal(result.status, 307);
    assert.ok(result.message.includes(elsewhere.url), result.message);
    assert.equal(elsewhere.requests.length, 0, 'nothing, and no key, went to the other host');
    assert.equal(fx.requests.filter((r) => r.path.endsWith('/infer')).length, 1, 'not retried');
    assert.equal(budget.spent, 0, 'a redirect ran no model');
    // Opening (the metadata request) does not follow one either.
    const moved = await startFixtureServer((req) => ({
      status: 301,
      headers: { location: `${elsewhere.url}${req.path}` },
      body: '',
    }));
    try {
      const err = await openTeacher('kserve-v2', {
        ...kserveSettings(moved.url),
        auth: { scheme: 'api-key', token: 'key-4f1c9a-secret' },
      }).catch((e: Error) => e);
      assert.ok(err instanceof TeacherRedirectError, String(err));
      assert.equal(elsewhere.requests.length, 0);
    } finally {
      await moved.close();
    }
  } finally {
    await fx.close();
    await elsewhere.close();
  }
});

test('a reply over the size limit is refused as it streams, with or without a Content-Length', async () => {
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  let served = 0;
  const server = http.createServer((req, res) => {
    const declared = req.url === '/declared';
    res.writeHead(
      200,
      declared
        ? { 'content-type': 'application/json', 'content-length': String(chunk.length * 1000) }
        : { 'content-type': 'application/json' },
    );
    // Up to 64 MB would follow; the client must stop reading long before.
    let n = 0;
    const pump = () => {
      while (n < 1000) {
        n++;
        served += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    res.on('close', () => {
      n = 1000;
    });
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    for (const path of ['/declared', '/chunked']) {
      const err = await httpExchange({
        url: url + path,
        body: '{}',
        maxReplyBytes: 1024 * 1024,
        timeoutMs: 10_000,
      }).catch((e: Error) => e);
      assert.ok(err instanceof TeacherUnreadableReplyError, `${path}: ${String(err)}`);
      assert.match(err.message, /over the 1 MiB limit/);
      assert.equal(err.retryable, false);
    }
    assert.ok(served < 40 * 1024 * 1024, `the server got to write only ${served} bytes before the client hung up`);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
