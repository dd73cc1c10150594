/**
 * The handler map on its own (no HTTP): what the wizard's steps rely on beyond the e2e walk.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { createApiService, buildRecipe } from '../../src-main/bridge/api-handlers.ts';
import { MemoryVault } from '../../src-main/bridge/secret-vault.ts';
import { UI_TOKEN_ENV } from '../../src-main/bridge/run-manager.ts';

const home = mkdtempSync(path.join(os.tmpdir(), 'distill-handlers-'));
const service = createApiService({ home, vault: new MemoryVault() });
after(() => service.close());

test('methods:plan shows the queries and their cost before anything is spent', async () => {
  const plan = (await service.dispatch('methods:plan', { method: 'kd-soft', kwargs: { temperature: 4 }, n: 200, responseKind: 'logits', budget: 150, pricePer1000: 2 })) as { total: number; cost: number; fits: boolean };
  assert.equal(plan.total, 200);
  assert.equal(plan.cost, 0.4);
  assert.equal(plan.fits, false);
});

test('data:inspect refuses a missing folder and one without images, saying why', async () => {
  await assert.rejects(service.dispatch('data:inspect', { source: { kind: 'folder', dir: path.join(home, 'nope') } }), /no folder/);
  const empty = path.join(home, 'empty');
  mkdirSync(empty);
  writeFileSync(path.join(empty, 'a.txt'), 'x');
  await assert.rejects(service.dispatch('data:inspect', { source: { kind: 'folder', dir: empty } }));
});

test('runs:artifacts returns the newest PNG grids of a run as data URLs', async () => {
  const store = service.store;
  store.createRun({ id: '20260101T000000-aaaaaa', projectId: store.projectId('p'), name: 'r', recipe: {}, engineVersion: 't' });
  assert.deepEqual(await service.dispatch('runs:artifacts', { runId: '20260101T000000-aaaaaa' }), []);
  const dir = path.join(home, 'runs', '20260101T000000-aaaaaa', 'artifacts');
  mkdirSync(dir, { recursive: true });
  const png = PNG.sync.write(new PNG({ width: 2, height: 2 }));
  for (let i = 0; i < 8; i++) writeFileSync(path.join(dir, `grid-${i}.png`), png);
  writeFileSync(path.join(dir, 'grid-0.json'), '{}');
  const grids = (await service.dispatch('runs:artifacts', { runId: '20260101T000000-aaaaaa' })) as { name: string; dataUrl: string }[];
  assert.equal(grids.length, 6);
  assert.ok(grids.every((g) => g.dataUrl.startsWith('data:image/png;base64,')));
});

test('a wizard recipe names the token variable, never the token', () => {
  const recipe = buildRecipe({
    project: 'p', name: 'n',
    teacher: { protocol: 'kserve-v2', target: 'http://127.0.0.1:1', modelName: 'm', tokenKey: 'k', input: { shape: [-1, 1, 28, 28], layout: 'NCHW', mean: [0.5], std: [0.25] } },
    data: { source: { kind: 'builtin' }, n: 100, testLimit: 50 },
    student: 'lenet5-half', method: { key: 'kd-soft', kwargs: {} }, budget: { queries: 100, pricePer1000: 0 },
    training: { epochs: 1, batchSize: 32, learningRate: 0.001 },
  });
  assert.deepEqual(recipe.teacher.auth, { scheme: 'bearer', env: UI_TOKEN_ENV });
  assert.deepEqual(recipe.teacher.input?.mean, [0.5]);
  assert.equal(recipe.data.testLimit, 50);
  assert.equal(recipe.data.test?.kind, 'idx');
});
