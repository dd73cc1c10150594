/**
 * The Electron IPC guard, driven with crafted events instead of Electron: a sender that is not one
 * of our windows, a frame showing another page, and payloads that break the contract are all
 * rejected before the handler runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { guardIpc, IpcSenderError, ContractError, APP_ORIGIN } from '../../src-main/bridge/ipc-guard.ts';

function setup() {
  const calls: [string, unknown][] = [];
  const handle = guardIpc({
    isOurWindow: (id) => id === 7,
    dispatch: async (channel, request) => {
      calls.push([channel, request]);
      return { channel };
    },
  });
  return { calls, handle };
}

const ours = { sender: { id: 7 }, senderFrame: { url: `${APP_ORIGIN}/index.html` } };

test('a valid call from our window reaches the handler with the parsed payload', async () => {
  const { calls, handle } = setup();
  assert.deepEqual(await handle(ours, 'runs:pause', { runId: '20260101T000000-abcdef' }), { channel: 'runs:pause' });
  assert.deepEqual(calls, [['runs:pause', { runId: '20260101T000000-abcdef' }]]);
});

test('a sender that is not one of our windows is rejected', async () => {
  const { calls, handle } = setup();
  await assert.rejects(
    handle({ sender: { id: 99 }, senderFrame: ours.senderFrame }, 'engine:version', {}),
    IpcSenderError,
  );
  assert.equal(calls.length, 0);
});

test('our window showing a foreign page (or no frame) is rejected', async () => {
  const { calls, handle } = setup();
  await assert.rejects(
    handle({ sender: { id: 7 }, senderFrame: { url: 'https://evil.example/' } }, 'engine:version', {}),
    IpcSenderError,
  );
  await assert.rejects(
    handle({ sender: { id: 7 }, senderFrame: { url: 'file:///tmp/x.html' } }, 'engine:version', {}),
    IpcSenderError,
  );
  await assert.rejects(handle({ sender: { id: 7 }, senderFrame: null }, 'engine:version', {}), IpcSenderError);
  assert.equal(calls.length, 0);
});

test('payloads that break the contract are rejected', async () => {
  const { calls, handle } = setup();
  const bad: [unknown, unknown][] = [
    ['no:such-channel', {}],
    [42, {}],
    ['__proto__', {}],
    ['engine:version', { extra: 1 }],
    ['runs:pause', { runId: '../../../etc/passwd' }],
    ['runs:pause', {}],
    ['secrets:set', { key: 'k', token: 12 }],
    ['export:bundle', { runId: '20260101T000000-abcdef', precisions: ['fp64'] }],
    ['runs:start', { project: 'p', name: 'n' }],
    ['data:inspect', { source: { kind: 'http', dir: 'x' } }],
  ];
  for (const [channel, payload] of bad) {
    await assert.rejects(
      handle(ours, channel, payload),
      ContractError,
      `${String(channel)} ${JSON.stringify(payload)}`,
    );
  }
  assert.equal(calls.length, 0);
});

test('wired to the real handler map, as the desktop app wires it', async () => {
  const { mkdtempSync } = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const { createApiService } = await import('../../src-main/service/api-service.ts');
  const { MemoryVault } = await import('../../src-main/service/secret-vault.ts');
  const service = createApiService({
    home: mkdtempSync(path.join(os.tmpdir(), 'distill-ipc-')),
    vault: new MemoryVault(),
  });
  try {
    const handle = guardIpc({ isOurWindow: (id) => id === 7, dispatch: (c, r) => service.dispatch(c, r) });
    assert.deepEqual(await handle(ours, 'engine:version', {}), {
      version: ((await service.dispatch('engine:version', {})) as { version: string }).version,
    });
    assert.deepEqual(await handle(ours, 'projects:create', { name: 'p1' }), { name: 'p1' });
    await assert.rejects(handle(ours, 'projects:create', { name: '' }), ContractError);
    await assert.rejects(
      handle({ sender: { id: 8 }, senderFrame: ours.senderFrame }, 'projects:list', {}),
      IpcSenderError,
    );
    const projects = (await handle(ours, 'projects:list', {})) as { name: string }[];
    assert.deepEqual(
      projects.map((p) => p.name),
      ['p1'],
    );
  } finally {
    service.close();
  }
});
