import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { Store } from '../../src-main/store/store.ts';
import { openDatabase, STORE_FILE } from '../../src-main/store/open-store.ts';
import { SCHEMA_VERSION } from '../../src-main/store/migrations.ts';
import { StoreBusyError, StoreVersionError, RunNotFoundError } from '../../src-main/store/store-errors.ts';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
const tmpHome = () => mkdtempSync(path.join(os.tmpdir(), 'store-'));

test('an empty store migrates to the current schema with WAL and foreign keys on', () => {
  const store = Store.open(tmpHome());
  try {
    assert.equal(store.db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    assert.equal(store.db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(store.db.pragma('foreign_keys', { simple: true }), 1);
    const tables = store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
    for (const t of [
      'checkpoints',
      'datasets',
      'epoch_metrics',
      'events',
      'exports',
      'projects',
      'reply_cache',
      'runs',
      'teachers',
    ]) {
      assert.ok(tables.includes(t), `missing table ${t}`);
    }
    assert.equal(store.integrityCheck(), 'ok');
  } finally {
    store.close();
  }
});

test('a store written by schema version 1 upgrades and keeps its history', () => {
  const home = tmpHome();
  copyFileSync(path.join(fixtures, 'store-v1.db'), path.join(home, STORE_FILE));
  const store = Store.open(home);
  try {
    assert.equal(store.db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    const runs = store.listRuns();
    assert.equal(runs.length, 1);
    assert.equal(runs[0].name, 'old-run');
    assert.equal(runs[0].control, null);
    assert.deepEqual(
      store.metrics(runs[0].id).map((m) => m.epoch),
      [1, 2, 3],
    );
    assert.equal(store.projectQueries('legacy'), 2000);
    store.addCheckpoint(runs[0].id, { epoch: 3, path: '/nowhere', score: 0.8, bytes: 1 });
    assert.equal(store.checkpoints(runs[0].id).length, 1);
    assert.equal(store.integrityCheck(), 'ok');
  } finally {
    store.close();
  }
});

test('a store from a newer version is refused with a clear message', () => {
  const home = tmpHome();
  const db = new Database(path.join(home, STORE_FILE));
  db.pragma('user_version = 99');
  db.close();
  assert.throws(
    () => Store.open(home),
    (err: unknown) => err instanceof StoreVersionError && /newer Distill Workbench \(schema 99/.test(err.message),
  );
});

test('runs, metrics, events and control requests round-trip; unknown ids are clear errors', () => {
  const store = Store.open(tmpHome());
  try {
    const p = store.projectId('p1');
    assert.equal(store.projectId('p1'), p);
    store.createRun({ id: 'run-a', projectId: p, name: 'a', recipe: { x: 1 }, engineVersion: 't' });
    store.updateRun('run-a', { status: 'running' });
    store.recordEpoch('run-a', { epoch: 1, loss: 2, accuracy: NaN, fidelity: 0.5, seconds: 1, queries: 10 }, 10);
    store.recordEpoch('run-a', { epoch: 1, loss: 1.5, accuracy: 0.4, fidelity: 0.6, seconds: 1, queries: 10 }, 10);
    assert.deepEqual(store.metrics('run-a'), [
      { epoch: 1, loss: 1.5, accuracy: 0.4, fidelity: 0.6, seconds: 1, queries: 10 },
    ]);
    store.requestControl('run-a', 'pause');
    assert.equal(store.readControl('run-a'), 'pause');
    store.updateRun('run-a', { status: 'paused', control: null });
    assert.throws(() => store.requestControl('run-a', 'cancel'), /run-a is paused/);
    assert.ok(store.events('run-a').some((e) => e.message === 'pause requested'));
    assert.equal(store.getRun('run-').id, 'run-a', 'a unique prefix finds the run');
    assert.throws(() => store.getRun('zzz'), RunNotFoundError);
    assert.equal(store.projectQueries('p1'), 10);
  } finally {
    store.close();
  }
});

test('a second process writing while one holds the lock gets a clear "busy" error, and nothing is corrupted', async () => {
  const home = tmpHome();
  Store.open(home).close();
  const file = path.join(home, STORE_FILE);
  const script = `
    const D = require('better-sqlite3');
    const db = new D(${JSON.stringify(file)});
    db.exec('BEGIN IMMEDIATE');
    db.prepare("INSERT INTO projects (name, created_at) VALUES ('holder', 'now')").run();
    process.stdout.write('locked\\n');
    setTimeout(() => { db.exec('COMMIT'); db.close(); }, 1500);
  `;
  const child = spawn(process.execPath, ['-e', script], {
    cwd: path.join(fixtures, '..', '..'),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  const store = new Store(openDatabase(file, { busyTimeoutMs: 200 }), file);
  try {
    assert.throws(
      () => store.projectId('second'),
      (err: unknown) => err instanceof StoreBusyError && /is busy/.test(err.message),
    );
    await new Promise((r) => child.once('exit', r));
    // Once the first writer is done, the second proceeds normally.
    store.projectId('second');
    assert.deepEqual(store.db.prepare('SELECT name FROM projects ORDER BY id').pluck().all(), ['holder', 'second']);
    assert.equal(store.integrityCheck(), 'ok');
  } finally {
    store.close();
  }
});
