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
    assert.deepEqual(store.metrics(s2.runId).map((m) => m.epoch), [1, 2]);
    assert.equal(store.getRun(s2.runId).status, 'paused');

    const resumed = await resumeRun({ store, home: h, runId: s2.runId });
    assert.equal(resumed.status, 'completed');
    assert.equal(resumed.resumedFromEpoch, 2);
    assert.deepEqual(store.metrics(s2.runId).map((m) => m.epoch), [1, 2, 3, 4]);
    // Same curve, same end: the checkpoint held everything training depends on.
    assert.deepEqual(store.metrics(s2.runId).map((m) => m.loss), straight.epochs.map((m) => m.loss));
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
    store, home: h, recipe: structuredClone(base.recipe), baseDir: base.baseDir, signal,
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
    const cancelled = await startRun({
      store, home: h, recipe: structuredClone(base.recipe), baseDir: base.baseDir,
      onEvent: (e) => {
        if (e.type === 'phase' && e.phase === 'train' && !id) {
          id = store.listRuns()[0].id;
          // The same request `distill cancel <run>` makes from another process.
          store.requestControl(id, 'cancel');
        }
      },
    });
    assert.equal(cancelled.status, 'cancelled');
    assert.equal(store.getRun(cancelled.runId).status, 'cancelled');
    const done = await resumeRun({ store, home: h, runId: cancelled.runId });
    assert.equal(done.status, 'completed');
    assert.deepEqual(store.metrics(done.runId).map((m) => m.epoch), [1, 2, 3, 4]);
    await assert.rejects(resumeRun({ store, home: h, runId: done.runId }), /already completed/);
    const summary = JSON.parse(readFileSync(path.join(done.runDir, 'summary.json'), 'utf8'));
    assert.equal(summary.status, 'completed');
  } finally {
    store.close();
  }
});
