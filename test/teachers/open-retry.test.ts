/**
 * Opening a remote teacher survives transient failures of its first requests (the metadata GET and
 * the one probe sample), as queries do: a loopback server that drops connections on demand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { openTeacher } from '../../src-main/teachers/index.ts';
import {
  TeacherConnectionError,
  TeacherRequestRejectedError,
  TeacherServerError,
} from '../../src-main/teachers/errors.ts';
import { retryWhileOpening } from '../../src-main/teachers/open-retry.ts';

type Route = 'metadata' | 'infer';

/** A minimal kserve-v2 endpoint; `drop(route, n)` says whether the n-th request (from 1) of a route has its connection destroyed. */
async function flakyServer(drop: (route: Route, n: number) => boolean | number) {
  const seen: Record<Route, number> = { metadata: 0, infer: 0 };
  const server = http.createServer((req, res) => {
    const route: Route = req.url?.endsWith('/infer') ? 'infer' : 'metadata';
    const n = ++seen[route];
    const verdict = drop(route, n);
    req.resume();
    req.on('end', () => {
      if (verdict === true) return req.socket.destroy();
      if (typeof verdict === 'number') {
        res.writeHead(verdict, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ error: `status ${verdict}` }));
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      if (route === 'metadata') {
        return res.end(
          JSON.stringify({
            name: 'm',
            inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 1, 4, 4] }],
            outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 3] }],
          }),
        );
      }
      res.end(JSON.stringify({ outputs: [{ name: 'y', datatype: 'FP32', shape: [1, 3], data: [0.2, 0.5, 0.3] }] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, seen, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

test('a connection dropped on the metadata request or the probe is retried; the dropped probe counts as a query', async () => {
  const s = await flakyServer((route, n) => (route === 'metadata' && n <= 2) || (route === 'infer' && n === 1));
  try {
    const teacher = await openTeacher('kserve-v2', { url: s.url, modelName: 'm', timeoutMs: 5000 });
    assert.equal(s.seen.metadata, 3, 'two dropped, the third answered');
    assert.equal(s.seen.infer, 2, 'the probe was sent again');
    assert.equal(teacher.info.responseKind, 'probabilities');
    assert.equal(teacher.info.numClasses, 3);
    assert.equal(teacher.info.openQueries, 2, 'the dropped probe reached the server, so it may have been billed');
    await teacher.close?.();
  } finally {
    await s.close();
  }
});

test('a teacher that keeps dropping connections fails to open after a bounded number of attempts, with a clear error', async () => {
  const s = await flakyServer(() => true);
  try {
    await assert.rejects(openTeacher('kserve-v2', { url: s.url, modelName: 'm', timeoutMs: 5000 }), (err: Error) => {
      assert.ok(err instanceof TeacherConnectionError, err.message);
      assert.match(err.message, /connection to the teacher failed/);
      return true;
    });
    assert.equal(s.seen.metadata, 5, 'one attempt and four retries');
  } finally {
    await s.close();
  }
});

test('a request the teacher rejects (404) is not retried while opening', async () => {
  const s = await flakyServer(() => 404);
  try {
    await assert.rejects(
      openTeacher('kserve-v2', { url: s.url, modelName: 'm', timeoutMs: 5000 }),
      TeacherRequestRejectedError,
    );
    assert.equal(s.seen.metadata, 1);
  } finally {
    await s.close();
  }
});

test('retryWhileOpening: backs off between attempts and gives up after its retries', async () => {
  let calls = 0;
  const t0 = performance.now();
  await assert.rejects(
    retryWhileOpening(
      async () => {
        calls++;
        throw new TeacherServerError(503, 'warming up');
      },
      { retries: 2, backoffMs: 20, random: () => 1 },
    ),
    TeacherServerError,
  );
  assert.equal(calls, 3);
  // With random() = 1 each jittered delay is its whole exponential step: 20 ms, then 40 ms.
  assert.ok(performance.now() - t0 >= 55, 'it waited between attempts');
  let n = 0;
  assert.equal(
    await retryWhileOpening(async () => (++n < 3 ? Promise.reject(new TeacherServerError(500, '')) : 'ok'), {
      backoffMs: 1,
    }),
    'ok',
  );
  await assert.rejects(
    retryWhileOpening(async () => Promise.reject(new Error('not a teacher error'))),
    /not a teacher error/,
  );
});
