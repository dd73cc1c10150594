/**
 * Runs are jobs: pause, cancel and resume continue the same curve, and a resumed run ends exactly
 * where an uninterrupted run with the same recipe ends.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadRecipeFile, RESOURCES_DIR } from '../../src-main/recipe/load-recipe.ts';
import type { Recipe } from '../../src-main/recipe/recipe-schema.ts';
import { startRun, resumeRun, type RunSummary } from '../../src-main/jobs/run-distillation.ts';
import { Store } from '../../src-main/store/store.ts';
import { startTeacherServer } from '../../src-main/teacher-server/start-teacher-server.ts';
import { readTeacherManifest } from '../../src-main/teachers/onnx-local-teacher.ts';
import { TeacherBudgetExceededError } from '../../src-main/teachers/query-budget.ts';

let base: { recipe: Recipe; baseDir: string };
before(() => {
  base = loadRecipeFile(path.join(RESOURCES_DIR, 'recipes', 'demo.yaml'));
  Object.assign(base.recipe.data, { n: 300, testLimit: 300 });
  Object.assign(base.recipe.budget, { queries: 300 });
  Object.assign(base.recipe.training, { epochs: 4 });
  base.recipe.export.onnx = false;
});

const home = () => mkdtempSync(path.join(os.tmpdir(), 'resume-'));

test('a paused run resumes from its checkpoint and ends exactly like an uninterrupted run', async () => {
  const h = home();
  const store = Store.open(h);
  try {
    const straight = await startRun({ store, home: h, recipe: structuredClone(base.recipe), baseDir: base.baseDir });
    assert.equal(straight.status, 'completed');

    const s2 = await pauseDuringEpoch(store, h, 3);
    assert.equal(s2.status, 'paused');
    assert.deepEqual(
      store.metrics(s2.runId).map((m) => m.epoch),
      [1, 2],
    );
    assert.equal(store.getRun(s2.runId).status, 'paused');

    const resumed = await resumeRun({ store, home: h, runId: s2.runId });
    assert.equal(resumed.status, 'completed');
    assert.equal(resumed.resumedFromEpoch, 2);
    assert.deepEqual(
      store.metrics(s2.runId).map((m) => m.epoch),
      [1, 2, 3, 4],
    );
    // Same curve, same end: the checkpoint held everything training depends on.
    assert.deepEqual(
      store.metrics(s2.runId).map((m) => m.loss),
      straight.epochs.map((m) => m.loss),
    );
    assert.equal(resumed.accuracy, straight.accuracy);
    assert.equal(resumed.fidelity, straight.fidelity);
    // Checkpoints are pruned to the last two plus the best.
    const kept = store.checkpoints(s2.runId).map((c) => c.epoch);
    assert.ok(kept.length <= 3 && kept.includes(4) && kept.includes(3), `kept ${kept}`);
    assert.equal(readdirSync(path.join(s2.runDir, 'checkpoints')).length, kept.length);
    assert.equal(store.integrityCheck(), 'ok');
  } finally {
    store.close();
  }
});

async function pauseDuringEpoch(store: Store, h: string, epoch: number): Promise<RunSummary> {
  const signal: { stop?: 'pause' | 'cancel' } = {};
  return startRun({
    store,
    home: h,
    recipe: structuredClone(base.recipe),
    baseDir: base.baseDir,
    signal,
    onEvent: (e) => {
      // Asked at the end of the previous epoch, the pause lands after the first step of this one.
      if (e.type === 'epoch' && e.metrics.epoch === epoch - 1) signal.stop = 'pause';
    },
  });
}

test('cancel through the store stops a run; it can still be resumed, and a completed run cannot', async () => {
  const h = home();
  const store = Store.open(h);
  try {
    let id = '';
    let events = 0;
    let asked = false;
    const cancelled = await startRun({
      store,
      home: h,
      recipe: structuredClone(base.recipe),
      baseDir: base.baseDir,
      // The id comes as soon as the run's row exists, before any event (how the run worker learns it).
      onCreated: (runId) => {
        assert.equal(events, 0);
        id = runId;
      },
      onEvent: (e) => {
        events++;
        if (e.type === 'phase' && e.phase === 'train' && !asked) {
          asked = true;
          // The same request `distill cancel <run>` makes from another process.
          store.requestControl(id, 'cancel');
        }
      },
    });
    assert.equal(cancelled.runId, id);
    assert.equal(cancelled.status, 'cancelled');
    assert.equal(store.getRun(cancelled.runId).status, 'cancelled');
    const done = await resumeRun({ store, home: h, runId: cancelled.runId });
    assert.equal(done.status, 'completed');
    assert.deepEqual(
      store.metrics(done.runId).map((m) => m.epoch),
      [1, 2, 3, 4],
    );
    await assert.rejects(resumeRun({ store, home: h, runId: done.runId }), /already completed/);
    const summary = JSON.parse(readFileSync(path.join(done.runDir, 'summary.json'), 'utf8'));
    assert.equal(summary.status, 'completed');
  } finally {
    store.close();
  }
});

test('a budget used up by a billed failure pauses the run; resume --budget raises it and finishes with nothing paid twice', async () => {
  const manifest = path.join(RESOURCES_DIR, 'teachers', 'fashion-mnist-cnn.json');
  // Held-out evaluation takes the first requests (3 of 128 for 300 images); the 503 hits the fifth,
  // a training batch: the server received its samples, so the client counts them as spent.
  const server = await startTeacherServer({
    model: manifest,
    response: 'probs',
    faults: (n) => (n === 5 ? { status: 503 } : undefined),
  });
  const h = home();
  const store = Store.open(h);
  try {
    const recipe = structuredClone(base.recipe);
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
    recipe.training.epochs = 1;
    const logs: string[] = [];
    await assert.rejects(
      startRun({
        store,
        home: h,
        recipe,
        baseDir: base.baseDir,
        onEvent: (e) => e.type === 'log' && logs.push(e.message),
      }),
      TeacherBudgetExceededError,
    );
    const run = store.listRuns()[0];
    assert.equal(run.status, 'paused');
    assert.ok(
      logs.some((m) => m.includes(`distill resume ${run.id} --budget N`)),
      logs.join('\n'),
    );
    // The demo recipe's optimiser settings, said once at the start.
    assert.ok(
      logs.includes('training: 1 epoch, batch 64, Adam at 0.005 with a cosine schedule down to 0'),
      logs.join('\n'),
    );
    const spent = store.getRun(run.id).queriesSpent;
    // The batch before the failure, the failed one and, if it was already in flight, the last one.
    assert.ok(spent === 256 || spent === 300, `spent ${spent}`);

    await assert.rejects(
      resumeRun({ store, home: h, runId: run.id, budgetQueries: 299 }),
      /can only be raised: it is 300, got 299/,
    );
    const done = await resumeRun({ store, home: h, runId: run.id, budgetQueries: 428 });
    assert.equal(done.status, 'completed');
    assert.equal((store.getRun(run.id).recipe as Recipe).budget.queries, 428);
    // The 300 images once, plus the 128 billed for the failed batch: every reply that arrived was kept.
    assert.equal(store.getRun(run.id).queriesSpent, 300 + 128);
    assert.equal(server.stats().samplesServed, 300 + 300, 'each image answered once: 300 held-out, 300 training');
  } finally {
    store.close();
    await server.close();
  }
});
