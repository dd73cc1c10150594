/**
 * The built-in teacher server on its own: auth, the token-bucket rate limit with Retry-After,
 * seeded failure injection, routes and /stats; and `distill teacher serve` / `probe` as processes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { startTeacherServer } from '../../src-main/teacher-server/start-teacher-server.ts';
import type { ServedModel } from '../../src-main/teacher-server/served-model.ts';
import { sharedModel, MANIFEST } from '../teachers/fixtures/teacher-fixtures.ts';

let model: ServedModel;
before(async () => {
  model = await sharedModel();
});
after(() => model.close());

const infer = (url: string, count: number, headers: Record<string, string> = {}) =>
  fetch(`${url}/v2/models/fashion-mnist-cnn/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({
      inputs: [{ name: 'input', shape: [count, 1, 28, 28], datatype: 'FP32', data: new Array(count * 784).fill(0.5) }],
    }),
  });

test('rate limit: requests beyond N/s get 429 with Retry-After; auth comes first; /stats counts', async () => {
  const server = await startTeacherServer({ model, rateLimit: 2, token: 'srv-token-77' });
  try {
    assert.equal((await infer(server.url, 1)).status, 401);
    const auth = { authorization: 'Bearer srv-token-77' };
    const statuses = [];
    for (let i = 0; i < 4; i++) {
      const r = await infer(server.url, 2, auth);
      statuses.push(r.status);
      if (r.status === 429) assert.match(r.headers.get('retry-after')!, /^\d+$/);
      await r.arrayBuffer();
    }
    assert.deepEqual(statuses, [200, 200, 429, 429]);
    const st = (await (await fetch(`${server.url}/stats`)).json()) as Record<string, unknown>;
    assert.equal(st.samplesServed, 4);
    assert.equal(st.uniqueSamples, 1);
    assert.equal(st.duplicateSamples, 3, 'four identical samples: one unique, three repeats');
    assert.deepEqual(st.byStatus, { 200: 2, 401: 1, 429: 2 });
  } finally {
    await server.close();
  }
});

test("an idle connection stays open past Node's 5 s default, so a client back from a long pause reuses it", async () => {
  const server = await startTeacherServer({ model });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = () =>
    new Promise<{ status: number; reused: boolean; keepAlive: string }>((resolve, reject) => {
      const req = http.get(`${server.url}/v2/health/ready`, { agent }, (res) => {
        res.resume();
        res.on('end', () =>
          resolve({ status: res.statusCode!, reused: req.reusedSocket, keepAlive: String(res.headers['keep-alive']) }),
        );
      });
      req.on('error', reject);
    });
  try {
    const first = await get();
    assert.equal(first.status, 200);
    assert.equal(first.reused, false);
    assert.equal(first.keepAlive, 'timeout=65', 'clients read the idle timeout from this header');
    await new Promise((r) => setTimeout(r, 5_500));
    const second = await get();
    assert.equal(second.status, 200);
    assert.equal(second.reused, true, 'the server kept the idle connection');
  } finally {
    agent.destroy();
    await server.close();
  }
});

test('a port already in use is refused with a sentence that says so', async () => {
  const first = await startTeacherServer({ model });
  try {
    await assert.rejects(
      startTeacherServer({ model, port: first.port }),
      new RegExp(`port ${first.port} on 127.0.0.1 is already in use`),
    );
  } finally {
    await first.close();
  }
});

test('an injected failure rate is seeded and reproducible', async () => {
  const pattern = async () => {
    const server = await startTeacherServer({ model, failRate: 0.5, seed: 42 });
    try {
      const out: number[] = [];
      for (let i = 0; i < 10; i++) {
        const r = await infer(server.url, 1);
        await r.arrayBuffer();
        out.push(r.status);
      }
      return out;
    } finally {
      await server.close();
    }
  };
  const a = await pattern();
  assert.deepEqual(await pattern(), a);
  assert.ok(a.includes(500) && a.includes(200), a.join(','));
});

test('unknown models and routes are 404 with a JSON error', async () => {
  const server = await startTeacherServer({ model, protocols: ['kserve-v2'] });
  try {
    const r = await fetch(`${server.url}/v2/models/other`);
    assert.equal(r.status, 404);
    assert.match(((await r.json()) as { error: string }).error, /"other" is not served/);
    assert.equal(
      (await fetch(`${server.url}/v1/models/fashion-mnist-cnn/metadata`)).status,
      404,
      'tf-serving not enabled',
    );
  } finally {
    await server.close();
  }
});

test(
  '`distill teacher serve` prints its URL; `distill teacher probe --json` reports shapes, kind, classes and latency',
  { timeout: 60_000 },
  async () => {
    const bin = path.resolve('bin/distill.js');
    const env = { ...process.env, DISTILL_TEST_SERVE_TOKEN: 'cli-token-1234abcd' };
    const serve = spawn(
      process.execPath,
      [bin, 'teacher', 'serve', '--model', MANIFEST, '--token-env', 'DISTILL_TEST_SERVE_TOKEN', '--response', 'probs'],
      { env, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const kill = setTimeout(() => serve.kill('SIGKILL'), 50_000);
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let buf = '';
        serve.stdout!.on('data', (c: Buffer) => {
          buf += c.toString();
          const m = /teacher server (http:\/\/127\.0\.0\.1:\d+)/.exec(buf);
          if (m) resolve(m[1]);
        });
        serve.on('exit', (code) => reject(new Error(`serve exited ${code}`)));
      });
      const probe = (args: string[], extraEnv: Record<string, string> = {}) =>
        new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
          const p = spawn(process.execPath, [bin, 'teacher', 'probe', url, ...args], { env: { ...env, ...extraEnv } });
          let out = '';
          let err = '';
          p.stdout.on('data', (c: Buffer) => (out += c));
          p.stderr.on('data', (c: Buffer) => (err += c));
          p.on('exit', (code) => resolve({ code, out, err }));
        });
      const ok = await probe([
        '--protocol',
        'kserve-v2',
        '--model',
        'fashion-mnist-cnn',
        '--token-env',
        'DISTILL_TEST_SERVE_TOKEN',
        '--json',
        '--binary',
      ]);
      assert.equal(ok.code, 0, ok.err);
      const report = JSON.parse(ok.out) as {
        input: { shape: number[]; layout: string };
        output: { kind: string; numClasses: number };
        latencyMs: number;
        probe: { samples: number };
      };
      assert.deepEqual(report.input.shape, [-1, 1, 28, 28]);
      assert.equal(report.input.layout, 'NCHW');
      assert.equal(report.output.kind, 'probabilities');
      assert.equal(report.output.numClasses, 10);
      assert.ok(report.latencyMs > 0);
      assert.equal(report.probe.samples, 3);
      const denied = await probe(
        ['--protocol', 'kserve-v2', '--model', 'fashion-mnist-cnn', '--token-env', 'WRONG_TOKEN_VAR'],
        { WRONG_TOKEN_VAR: 'not-the-token-5555' },
      );
      assert.equal(denied.code, 1);
      assert.match(denied.err, /HTTP 401/);
      assert.ok(!denied.err.includes('not-the-token-5555'), 'the token never appears in an error');
      const missing = await probe([
        '--protocol',
        'kserve-v2',
        '--model',
        'fashion-mnist-cnn',
        '--token-env',
        'DISTILL_TEST_UNSET_VAR',
      ]);
      assert.match(missing.err, /DISTILL_TEST_UNSET_VAR is not set/);
      const stats = (await (await fetch(`${url}/stats`)).json()) as { samplesServed: number };
      assert.equal(stats.samplesServed, 3);
    } finally {
      serve.kill('SIGTERM');
      await new Promise((r) => serve.once('exit', r));
      clearTimeout(kill);
    }
  },
);
