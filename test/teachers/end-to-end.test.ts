/**
 * End to end over loopback: the built-in teacher served by `startTeacherServer`, the kserve-v2
 * adapter, the budgeted client with a reply cache; and a labelling process killed mid-request
 * and started again, which must finish with the same replies while no sample is answered twice.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTeacherServer } from '../../src-main/teacher-server/start-teacher-server.ts';
import type { ServedModel } from '../../src-main/teacher-server/served-model.ts';
import { openTeacher } from '../../src-main/teachers/index.ts';
import { TeacherClient } from '../../src-main/teachers/teacher-client.ts';
import { QueryBudget } from '../../src-main/teachers/query-budget.ts';
import { MemoryReplyCache } from '../../src-main/teachers/reply-cache.ts';
import { OnnxLocalTeacher } from '../../src-main/teachers/onnx-local-teacher.ts';
import { testImages, sharedModel, kserveSettings, MANIFEST, PER } from './fixtures/teacher-fixtures.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
let model: ServedModel;
before(async () => {
  model = await sharedModel();
});
after(() => model.close());

test('200 images through the client: exact budget, cache hits on a second pass, /stats agrees', async () => {
  const server = await startTeacherServer({ model });
  try {
    const teacher = await openTeacher(
      'kserve-v2',
      kserveSettings(server.url, { responseKind: 'logits', binary: true }),
    );
    const cache = new MemoryReplyCache();
    const budget = new QueryBudget(200, { pricePer1000: 2.5 });
    const client = new TeacherClient(teacher, budget, { maxBatch: 32, concurrency: 3, cache });
    const x = testImages(200);
    const first = await client.label(x.images, 200, PER);
    const again = await client.label(x.images, 200, PER);
    assert.deepEqual(again, first);
    assert.equal(budget.spent, 200);
    assert.equal(budget.costEstimate, 0.5);
    assert.equal(client.cacheHits, 200);
    const st = server.stats();
    assert.equal(st.samplesServed, 200);
    assert.equal(st.uniqueSamples, 200);
    assert.equal(st.duplicateSamples, 0);
    assert.equal(st.inferRequests, 7);
    const local = await OnnxLocalTeacher.open({ model: MANIFEST, responseKind: 'logits' });
    const ref = await local.query(x.images, 200);
    await local.close();
    assert.deepEqual(first.top1, ref.top1);
  } finally {
    await server.close();
  }
});

function runChild(
  args: string[],
  onLine: (line: string, child: ChildProcess) => void,
): Promise<{ code: number | null; signal: string | null; out: string[] }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(here, 'fixtures', 'label-with-store.ts'), ...args],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const out: string[] = [];
  let buf = '';
  child.stdout!.on('data', (c: Buffer) => {
    buf += c.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      out.push(line);
      onLine(line, child);
    }
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out });
    }),
  );
}

test(
  'a run SIGKILLed mid-request and started again ends identical, with no sample answered twice',
  { timeout: 90_000 },
  async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'distill-kill-'));
    const N = 120;
    const BATCH = 10;
    let child: ChildProcess | undefined;
    let killAt = 5;
    const server = await startTeacherServer({
      model,
      // Request 5 is the one in flight when the process dies: the server holds it, and the client is killed meanwhile.
      faults: (n) => {
        if (n !== killAt) return undefined;
        child?.kill('SIGKILL');
        return { delayMs: 300 };
      },
    });
    try {
      const db = path.join(dir, 'distill.db');
      const first = await runChild([server.url, db, String(N), String(BATCH)], (_l, c) => (child = c));
      assert.equal(first.signal, 'SIGKILL');
      assert.equal(
        first.out.filter((l) => l.startsWith('progress')).length,
        4,
        'four batches were answered before the kill',
      );
      await new Promise((r) => setTimeout(r, 400));
      const afterKill = server.stats();
      assert.equal(afterKill.samplesServed, 40);
      assert.equal(afterKill.samplesReceived, 50, 'the fifth batch reached the server, its reply never arrived');
      killAt = -1;
      const second = await runChild([server.url, db, String(N), String(BATCH)], () => {});
      assert.equal(second.code, 0);
      const result = JSON.parse(second.out.find((l) => l.startsWith('done'))!.slice(5)) as {
        sent: number;
        cacheHits: number;
        digest: string;
        top1: number[];
      };
      assert.equal(result.cacheHits, 40, 'every answered sample came from the SQLite cache');
      assert.equal(result.sent, N - 40);
      const st = server.stats();
      assert.equal(st.duplicateSamples, 0, 'no sample answered twice');
      assert.equal(st.samplesServed, N);
      assert.equal(st.uniqueSamples, N);
      assert.equal(st.duplicateReceived, BATCH, 'only the batch whose reply was lost in the kill was sent again');

      const local = await OnnxLocalTeacher.open({ model: MANIFEST, responseKind: 'logits' });
      const ref = await local.query(testImages(N).images, N);
      await local.close();
      assert.deepEqual(result.top1, Array.from(ref.top1));
      // A clean, uninterrupted run against a fresh store gives the very same bytes.
      const clean = await runChild([server.url, path.join(dir, 'clean.db'), String(N), String(BATCH)], () => {});
      const cleanResult = JSON.parse(clean.out.find((l) => l.startsWith('done'))!.slice(5)) as { digest: string };
      assert.equal(cleanResult.digest, result.digest);
    } finally {
      child?.kill('SIGKILL');
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
