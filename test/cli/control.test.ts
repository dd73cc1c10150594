/**
 * `distill pause` and `distill cancel` apply the rule the UI's runs:pause and runs:cancel apply:
 * a paused or failed run is cancelled at once (no process is left to read a request), a queued or
 * running one is asked to stop at its next step, a finished one is refused.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createApiService } from '../../src-main/service/api-service.ts';
import { MemoryVault } from '../../src-main/service/secret-vault.ts';
import type { RunStatus } from '../../src-main/store/store.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = path.join(root, 'bin', 'distill.js');
const home = mkdtempSync(path.join(os.tmpdir(), 'distill-control-'));
const service = createApiService({ home, vault: new MemoryVault() });
const store = service.store;
after(() => service.close());

function distill(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args, '--home', home], {
    encoding: 'utf8',
    cwd: root,
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Two runs in `status`, one for the CLI and one for the UI. */
function twins(status: RunStatus, n: number): [string, string] {
  const ids = [`20260101T00000${n}-cli000`, `20260101T00000${n}-ui0000`] as [string, string];
  for (const id of ids) {
    store.createRun({
      id,
      projectId: store.projectId('control'),
      name: `${status} run`,
      recipe: {},
      engineVersion: 't',
    });
    if (status !== 'queued') store.updateRun(id, { status });
  }
  return ids;
}

const state = (id: string) => {
  const r = store.getRun(id);
  return { status: r.status, control: r.control };
};

test('distill cancel of a paused run cancels it at once, as runs:cancel does', async () => {
  const [cli, ui] = twins('paused', 1);
  const r = distill('cancel', cli);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /cancelled run 20260101T000001-cli000/);
  await service.dispatch('runs:cancel', { runId: ui });
  assert.deepEqual(state(cli), { status: 'cancelled', control: null });
  assert.deepEqual(state(ui), state(cli));
});

test('distill cancel of a failed run, and of a running one, ends as runs:cancel leaves it', async () => {
  for (const [status, n, expected] of [
    ['failed', 2, { status: 'cancelled', control: null }],
    ['running', 3, { status: 'running', control: 'cancel' }],
  ] as const) {
    const [cli, ui] = twins(status, n);
    const r = distill('cancel', cli);
    assert.equal(r.code, 0, r.stderr);
    await service.dispatch('runs:cancel', { runId: ui });
    assert.deepEqual(state(cli), expected, status);
    assert.deepEqual(state(ui), expected, status);
  }
});

test('a finished run is refused by both, with the same reason; pause agrees too', async () => {
  const [cli, ui] = twins('completed', 4);
  const r = distill('cancel', cli);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /is completed; only a queued or running run can be asked to cancel/);
  await assert.rejects(
    service.dispatch('runs:cancel', { runId: ui }),
    /is completed; only a queued or running run can be asked to cancel/,
  );

  const [paused] = twins('paused', 5);
  const p = distill('pause', paused);
  assert.equal(p.code, 1);
  assert.match(p.stderr, /is paused; only a queued or running run can be asked to pause/);
  const [running] = twins('queued', 6);
  assert.equal(distill('pause', running).code, 0);
  assert.deepEqual(state(running), { status: 'queued', control: 'pause' });
});
