/**
 * Errors keep their kind across processes: a failure thrown in the run worker reaches the
 * service's caller, and a failed bridge call reaches the browser, with name, code and message as
 * the engine threw them, so front ends branch on the code instead of the message text.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createApiService } from '../../src-main/service/api-service.ts';
import { MemoryVault } from '../../src-main/service/secret-vault.ts';
import { startBridge } from '../../src-main/bridge/bridge-server.ts';
import { RESOURCES_DIR } from '../../src-main/recipe/load-recipe.ts';
import { ERROR_CODES, errorCode, isApiError, type ApiError } from '../../src-main/api/contract.ts';
import { fromApiError, replyOrFailure, toApiError } from '../../src-main/util/serialize-error.ts';
import { TeacherBudgetExceededError } from '../../src-main/teachers/query-budget.ts';
import { TeacherConnectionError, TeacherError } from '../../src-main/teachers/errors.ts';
import { RunNotFoundError } from '../../src-main/store/store-errors.ts';
import { ParityError } from '../../src-main/export/errors.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'distill-error-codes-'));

test('an error keeps name, code and message through {name, code, message}; anything else is unknown', () => {
  const budget = new TeacherBudgetExceededError(10, 2, 100);
  const wire = toApiError(budget);
  assert.deepEqual(wire, {
    name: 'TeacherBudgetExceededError',
    code: 'budget-exhausted',
    message: 'query budget exhausted: 10 more sample(s) requested, 2 of 100 left',
  });
  assert.ok(isApiError(JSON.parse(JSON.stringify(wire))));
  const back = fromApiError(JSON.parse(JSON.stringify(wire)));
  assert.ok(back instanceof Error);
  assert.deepEqual({ name: back.name, code: back.code, message: back.message }, wire);
  assert.equal(errorCode(back), 'budget-exhausted');

  const conn = new TeacherConnectionError('ECONNREFUSED', false);
  assert.equal(conn.code, 'teacher-unreachable');
  assert.equal(conn.errno, 'ECONNREFUSED');
  assert.ok(conn instanceof TeacherError);
  assert.equal(new ParityError('x').name, 'ParityError');
  assert.equal(new ParityError('x').code, 'parity-failed');

  // A Node errno is not an engine code, nor is a made-up one arriving from elsewhere.
  assert.deepEqual(toApiError(Object.assign(new Error('gone'), { code: 'ENOENT' })), {
    name: 'Error',
    code: 'unknown',
    message: 'gone',
  });
  assert.equal(fromApiError({ name: 'X', code: 'no-such-code', message: 'm' }).code, 'unknown');
  assert.equal(fromApiError('just text').message, 'just text');
  assert.equal(new Set(ERROR_CODES).size, ERROR_CODES.length);
});

test('an IPC handler wrapped by replyOrFailure answers the failure instead of throwing it', async () => {
  const ok = replyOrFailure(async (x: number) => x + 1);
  assert.deepEqual(await ok(1), { ok: true, result: 2 });
  const failing = replyOrFailure(async () => {
    throw new RunNotFoundError('no run with id abcd');
  });
  assert.deepEqual(await failing(), {
    ok: false,
    error: 'no run with id abcd',
    name: 'RunNotFoundError',
    code: 'run-not-found',
  });
});

test('an error thrown in the run worker reaches the service caller with name, code and message', async (t) => {
  const service = createApiService({ home: path.join(tmp, 'service'), vault: new MemoryVault() });
  t.after(() => service.close());
  const request = {
    project: 'p',
    name: 'over-budget',
    teacher: { protocol: 'onnx-local', target: path.join(RESOURCES_DIR, 'teachers', 'fashion-mnist-cnn.json') },
    data: { source: { kind: 'builtin' }, n: 200, testLimit: 0 },
    student: 'lenet5-half',
    method: { key: 'kd-soft', kwargs: {} },
    budget: { queries: 100, pricePer1000: 0 },
    training: { epochs: 1, batchSize: 32, learningRate: 0.001 },
  };
  // The worker's preflight refuses the plan: the error is made in the worker process, not here.
  await assert.rejects(service.dispatch('runs:start', request), (err: ApiError & Error) => {
    assert.equal(err.name, 'PlanOverBudgetError');
    assert.equal(err.code, 'plan-over-budget');
    assert.equal(errorCode(err), 'plan-over-budget');
    assert.equal(err.message, 'the plan needs 200 queries but the budget is 100: raise budget.queries or lower data.n');
    return true;
  });
  assert.equal(service.store.listRuns().length, 0, 'nothing was recorded');
});

test("the bridge's JSON error reply carries the code beside the message", async (t) => {
  const staticDir = path.join(tmp, 'dist');
  mkdirSync(staticDir);
  writeFileSync(path.join(staticDir, 'index.html'), '<!doctype html><title>t</title>');
  const bridge = await startBridge({ home: path.join(tmp, 'bridge'), staticDir });
  t.after(() => bridge.close());
  const api = async (channel: string, body: unknown) => {
    const res = await fetch(`http://127.0.0.1:${bridge.port}/api/${channel}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${bridge.token}` },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const missing = await api('runs:get', { runId: '20260101T000000-abcdef' });
  assert.equal(missing.status, 200);
  assert.deepEqual(missing.body, {
    ok: false,
    error: 'no run with id 20260101T000000-abcdef; `distill runs` lists them',
    name: 'RunNotFoundError',
    code: 'run-not-found',
  });
  const broken = await api('runs:get', { runId: '../etc' });
  assert.equal(broken.status, 400);
  assert.equal(broken.body.code, 'contract');
  assert.equal(broken.body.name, 'ContractError');
  // A failure that is not an engine error still answers, with code 'unknown'.
  const plain = await api('data:inspect', { source: { kind: 'folder', dir: path.join(tmp, 'nope') } });
  assert.equal(plain.body.ok, false);
  assert.equal(plain.body.code, 'unknown');
  assert.match(String(plain.body.error), /no folder/);
});
