/**
 * The handler map on its own (no HTTP): what the wizard's steps rely on beyond the e2e walk.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { listMethods } from '../../src-main/methods/index.ts';
import { createApiService } from '../../src-main/service/api-service.ts';
import { buildRecipe } from '../../src-main/service/wizard-recipe.ts';
import { MemoryVault } from '../../src-main/service/secret-vault.ts';
import { UI_TOKEN_ENV } from '../../src-main/worker/run-manager.ts';
import { loadRecipeFile, RESOURCES_DIR } from '../../src-main/recipe/load-recipe.ts';
import { runRequestSchema } from '../../src-main/api/contract.ts';
import type { Recipe } from '../../src-main/recipe/recipe-schema.ts';
import { startRun } from '../../src-main/jobs/run-distillation.ts';
import { startTeacherServer } from '../../src-main/teacher-server/start-teacher-server.ts';
import { readTeacherManifest } from '../../src-main/teachers/onnx-local-teacher.ts';

const home = mkdtempSync(path.join(os.tmpdir(), 'distill-handlers-'));
const service = createApiService({ home, vault: new MemoryVault() });
after(() => service.close());

test('methods:plan shows the queries and their cost before anything is spent', async () => {
  const plan = (await service.dispatch('methods:plan', {
    method: 'kd-soft',
    kwargs: { temperature: 4 },
    n: 200,
    responseKind: 'logits',
    budget: 150,
    pricePer1000: 2,
  })) as { total: number; cost: number; fits: boolean };
  assert.equal(plan.total, 200);
  assert.equal(plan.cost, 0.4);
  assert.equal(plan.fits, false);
});

test('methods:list: every registered method brings its own help, none falls back to its title', async () => {
  const methods = (await service.dispatch('methods:list', {})) as { key: string; title: string; help: string }[];
  // Every method the registry holds is listed (a new method needs no edit here), the six shipped ones among them.
  assert.deepEqual(
    methods.map((m) => m.key),
    listMethods()
      .map((m) => m.key)
      .sort(),
  );
  for (const key of ['active-mixup', 'fs-bbt', 'gpd', 'kd-hard', 'kd-soft', 'mekd'])
    assert.ok(
      methods.some((m) => m.key === key),
      key,
    );
  for (const m of methods) assert.ok(m.help.length > 40 && m.help !== m.title, `${m.key}: ${m.help}`);
});

test('data:inspect refuses a missing folder and one without images, saying why', async () => {
  await assert.rejects(
    service.dispatch('data:inspect', { source: { kind: 'folder', dir: path.join(home, 'nope') } }),
    /no folder/,
  );
  const empty = path.join(home, 'empty');
  mkdirSync(empty);
  writeFileSync(path.join(empty, 'a.txt'), 'x');
  await assert.rejects(
    service.dispatch('data:inspect', { source: { kind: 'folder', dir: empty } }),
    /folder has no images/,
  );
});

test('runs:artifacts returns the newest PNG grids of a run as data URLs', async () => {
  const store = service.store;
  store.createRun({
    id: '20260101T000000-aaaaaa',
    projectId: store.projectId('p'),
    name: 'r',
    recipe: {},
    engineVersion: 't',
  });
  assert.deepEqual(await service.dispatch('runs:artifacts', { runId: '20260101T000000-aaaaaa' }), []);
  const dir = path.join(home, 'runs', '20260101T000000-aaaaaa', 'artifacts');
  mkdirSync(dir, { recursive: true });
  const png = PNG.sync.write(new PNG({ width: 2, height: 2 }));
  for (let i = 0; i < 8; i++) writeFileSync(path.join(dir, `grid-${i}.png`), png);
  writeFileSync(path.join(dir, 'grid-0.json'), '{}');
  const grids = (await service.dispatch('runs:artifacts', { runId: '20260101T000000-aaaaaa' })) as {
    name: string;
    dataUrl: string;
  }[];
  assert.equal(grids.length, 6);
  assert.ok(grids.every((g) => g.dataUrl.startsWith('data:image/png;base64,')));
});

test('a wizard recipe names the token variable, never the token', () => {
  const recipe = buildRecipe({
    project: 'p',
    name: 'n',
    teacher: {
      protocol: 'kserve-v2',
      target: 'http://127.0.0.1:1',
      modelName: 'm',
      tokenKey: 'k',
      input: { shape: [-1, 1, 28, 28], layout: 'NCHW', mean: [0.5], std: [0.25] },
    },
    data: { source: { kind: 'builtin' }, n: 100, testLimit: 50 },
    student: 'lenet5-half',
    method: { key: 'kd-soft', kwargs: {} },
    budget: { queries: 100, pricePer1000: 0 },
    training: { epochs: 1, batchSize: 32, learningRate: 0.001 },
  });
  assert.deepEqual(recipe.teacher.auth, { scheme: 'bearer', env: UI_TOKEN_ENV });
  assert.deepEqual(recipe.teacher.input?.mean, [0.5]);
  assert.equal(recipe.data.testLimit, 50);
  assert.equal(recipe.data.test?.kind, 'idx');
  // The wizard's rate schedule: constant unless the user picks cosine.
  assert.equal(recipe.training.schedule, 'constant');
});

test("the wizard's rate schedule reaches the recipe, and an unknown one is refused at the API boundary", () => {
  const req = {
    project: 'p',
    name: 'n',
    teacher: { protocol: 'onnx-local', target: 'm.onnx' },
    data: { source: { kind: 'builtin' }, n: 100, testLimit: 50 },
    student: 'lenet5-half',
    method: { key: 'kd-soft', kwargs: {} },
    budget: { queries: 100, pricePer1000: 0 },
    training: { epochs: 1, batchSize: 32, learningRate: 0.004, schedule: 'cosine' },
  };
  const parsed = runRequestSchema.parse(req);
  assert.deepEqual(buildRecipe(parsed).training, {
    epochs: 1,
    batchSize: 32,
    learningRate: 0.004,
    schedule: 'cosine',
    augment: { shift: 0, flip: false },
  });
  const bad = runRequestSchema.safeParse({ ...req, training: { ...req.training, schedule: 'step' } });
  assert.equal(bad.success, false);
  assert.deepEqual(bad.error!.issues[0].path, ['training', 'schedule']);
});

test('runs:resume with a budget raises it in the worker and finishes a run a billed failure paused', async () => {
  const manifest = path.join(RESOURCES_DIR, 'teachers', 'fashion-mnist-cnn.json');
  const server = await startTeacherServer({
    model: manifest,
    response: 'probs',
    faults: (n) => (n === 5 ? { status: 503 } : undefined),
  });
  try {
    const { recipe, baseDir } = loadRecipeFile(path.join(RESOURCES_DIR, 'recipes', 'demo.yaml'));
    Object.assign(recipe.data, { n: 300, testLimit: 300 });
    Object.assign(recipe.budget, { queries: 300 });
    Object.assign(recipe.training, { epochs: 1, workers: 1 });
    recipe.export.onnx = false;
    recipe.teacher = {
      ...recipe.teacher,
      protocol: 'kserve-v2',
      url: server.url,
      modelName: 'fashion-mnist-cnn',
      model: undefined,
      input: readTeacherManifest(manifest).input,
      responseKind: 'probabilities',
      numClasses: 10,
      maxBatch: 128,
    } as Recipe['teacher'];
    await assert.rejects(
      startRun({ store: service.store, home, recipe, baseDir, project: 'budget' }),
      /query budget exhausted/,
    );
    const run = service.store.listRuns().find((r) => r.project === 'budget')!;
    assert.equal(run.status, 'paused');

    await assert.rejects(
      service.dispatch('runs:resume', { runId: run.id, budget: 200 }),
      /can only be raised: it is 300, got 200/,
    );
    await assert.rejects(service.dispatch('runs:resume', { runId: run.id, budget: 0 }), {
      name: 'ContractError',
      message: /^runs:resume: budget: /,
    });
    await service.dispatch('runs:resume', { runId: run.id, budget: 428 });
    const deadline = Date.now() + 120_000;
    while (
      !['completed', 'failed', 'paused'].includes(service.store.getRun(run.id).status) ||
      service.runs.isActive(run.id)
    ) {
      assert.ok(Date.now() < deadline, `run still ${service.store.getRun(run.id).status} after 120 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const done = service.store.getRun(run.id);
    assert.equal(done.status, 'completed', done.error ?? '');
    assert.equal((done.recipe as Recipe).budget.queries, 428);
    assert.equal(done.queriesSpent, 300 + 128);
  } finally {
    await server.close();
  }
});
