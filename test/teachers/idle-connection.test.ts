/**
 * A pooled connection whose idle timeout passed while this process was busy training (its event
 * loop blocked, so neither fetch's idle timer nor the server's could fire in time) must not carry
 * the next batch: reusing it drew a reset, a retry and a query charged for nothing. An active-mixup run at 50k on
 * the shipped grid paused 23 queries short of its plan that way. The server here keeps idle
 * connections 3 s (its Keep-Alive hint makes fetch keep them 2 s), as a cloud endpoint keeps them
 * for its own timeout; the loop is blocked 2.5 s between calls, between the two.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { openTeacher } from '../../src-main/teachers/index.ts';
import { TeacherClient } from '../../src-main/teachers/teacher-client.ts';
import { QueryBudget } from '../../src-main/teachers/query-budget.ts';

async function shortKeepAliveServer() {
  let infer = 0;
  const server = http.createServer((req, res) => {
    const isInfer = req.url?.endsWith('/infer') ?? false;
    if (isInfer) infer++;
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      if (!isInfer) {
        return res.end(
          JSON.stringify({
            name: 'm',
            inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 1, 2, 2] }],
            outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 3] }],
          }),
        );
      }
      res.end(JSON.stringify({ outputs: [{ name: 'y', datatype: 'FP32', shape: [1, 3], data: [0.2, 0.5, 0.3] }] }));
    });
  });
  server.keepAliveTimeout = 3000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, requests: () => infer, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** Synchronous work that keeps the event loop from running any timer, as a training phase on this thread does. */
function blockEventLoop(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end);
}

test('after the event loop was blocked past the server idle timeout, the next batch goes out on a fresh connection: no retry, nothing charged twice', async () => {
  const s = await shortKeepAliveServer();
  try {
    const teacher = await openTeacher('kserve-v2', { url: s.url, modelName: 'm', timeoutMs: 5000 });
    const retries: string[] = [];
    const budget = new QueryBudget(3);
    const client = new TeacherClient(teacher, budget, { maxBatch: 1, onRetry: (n) => retries.push(n.error.message) });
    const img = (v: number) => new Float32Array([v, v, v, v]);
    for (let round = 1; round <= 3; round++) {
      const r = await client.label(img(round / 10), 1, 4);
      assert.equal(r.count, 1);
      blockEventLoop(2500);
    }
    assert.deepEqual(retries, [], 'no request needed a retry');
    assert.equal(budget.spent, 3, 'three images, three queries');
    assert.equal(s.requests() - (teacher.info.openQueries ?? 0), 3, 'three inference requests after the probe');
    await teacher.close?.();
  } finally {
    await s.close();
  }
});
