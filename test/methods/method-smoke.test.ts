/**
 * A short run of every method (N = 300, 1,500 queries, 6 epochs, the shipped ONNX teacher) must beat
 * the same student trained on the raw local data alone. "Alone" is read as the paper's "student alone"
 * row (FS-BBT, Table 2): the same 300 images with their ground-truth labels, cross-entropy, same
 * seed, same student initialisation, same epochs and augmentation, scored on the same held-out images.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadRecipeFile, RESOURCES_DIR } from '../../src-main/recipe/load-recipe.ts';
import type { Recipe } from '../../src-main/recipe/recipe-schema.ts';
import { startRun } from '../../src-main/jobs/run-distillation.ts';
import { prepare } from '../../src-main/jobs/stages/prepare.ts';
import { absolutizeRecipe } from '../../src-main/jobs/recipe-paths.ts';
import { Store } from '../../src-main/store/store.ts';
import { trainStudent } from '../../src-main/training/trainer.ts';
import { predictClasses, agreement } from '../../src-main/training/evaluate.ts';
import { softCe } from '../../src-main/methods/losses.ts';

let base: { recipe: Recipe; baseDir: string };
let home: string;
let store: Store;
let alone = NaN;

function smallRecipe(): Recipe {
  const r = structuredClone(base.recipe);
  Object.assign(r.data, { n: 300, testLimit: 1000 });
  // The full Fashion-MNIST (npm test installs it), which these thresholds were measured on; the demo
  // recipe itself now keeps to the shipped subset. On 300 images drawn from the subset gpd scored
  // 57.4 % against 61.5 % for the student alone (measured), the weakness issue 22 describes.
  r.data.train = { ...r.data.train, dir: 'builtin:fashion-mnist' } as typeof r.data.train;
  r.data.test = { ...r.data.test!, dir: 'builtin:fashion-mnist' } as typeof r.data.test;
  Object.assign(r.budget, { queries: 1500 });
  // Six epochs of 300 images are 30 steps. The smoke run keeps the constant 0.002 the demo recipe had
  // before its cosine schedule from 0.005: in 30 steps from that higher rate, gpd's wide dynamic
  // teacher does not settle (51.0 % against 56.1 % for the student alone, measured), though at the
  // demo's own scale gpd does as well with the cosine schedule (85.29 % against 84.94 %).
  Object.assign(r.training, { epochs: 6, learningRate: 0.002, schedule: 'constant' });
  r.export.onnx = false;
  return r;
}

/** The student alone, built exactly as a run builds it (its prepare stage), trained on ground-truth labels. */
async function studentAlone(r: Recipe): Promise<number> {
  const p = await prepare({ recipe: absolutizeRecipe(r, base.baseDir) });
  try {
    const { local, test: testSet } = p.data;
    const C = p.info.numClasses;
    const onehot = new Float32Array(local.count * C);
    for (let i = 0; i < local.count; i++) onehot[i * C + local.labels![i]] = 1;
    await trainStudent({
      model: p.student.model,
      images: local.images,
      targets: onehot,
      count: local.count,
      dims: local,
      ...r.training,
      rng: p.rng,
      loss: softCe(),
    });
    return agreement(
      await predictClasses(p.student.model, testSet!.images, testSet!.count, testSet!),
      testSet!.labels!,
    );
  } finally {
    await p.release();
  }
}

before(async () => {
  base = loadRecipeFile(path.join(RESOURCES_DIR, 'recipes', 'demo.yaml'));
  home = mkdtempSync(path.join(os.tmpdir(), 'method-smoke-'));
  store = Store.open(home);
  alone = await studentAlone(smallRecipe());
});

const CASES: [string, Record<string, number | boolean>][] = [
  ['fs-bbt', { cvaeEpochs: 20 }],
  ['active-mixup', {}],
  ['gpd', {}],
  ['mekd', { ganSteps: 100 }],
  ['kd-ls', {}],
];

for (const [key, kwargs] of CASES) {
  test(`${key}: a short run beats the student trained alone on the local data and keeps to the budget`, async (t) => {
    const r = smallRecipe();
    r.method = { key, kwargs };
    const s = await startRun({ store, home, recipe: r, baseDir: base.baseDir });
    assert.equal(s.status, 'completed');
    assert.ok(s.queries <= r.budget.queries, `spent ${s.queries} of ${r.budget.queries}`);
    assert.ok(s.method.plan.total <= r.budget.queries);
    t.diagnostic(`${key}: ${(s.accuracy * 100).toFixed(1)}% vs student alone ${(alone * 100).toFixed(1)}%`);
    assert.ok(s.accuracy > alone, `${key}: ${s.accuracy} vs student alone ${alone}`);
  });
}

test('every method runs under a top-1 teacher', async () => {
  for (const [key, kwargs] of CASES) {
    const r = smallRecipe();
    Object.assign(r.data, { n: 100 });
    Object.assign(r.budget, { queries: 400 });
    Object.assign(r.training, { epochs: 1 });
    r.teacher.responseKind = 'top-1';
    r.method = {
      key,
      kwargs: {
        ...kwargs,
        ...(key === 'mekd'
          ? { ganSteps: 20 }
          : key === 'fs-bbt'
            ? { cvaeEpochs: 2, realRepeats: 2, views: 0.5, assistant: 'mlp', assistantPool: 60 }
            : {}),
      },
    };
    const s = await startRun({ store, home, recipe: r, baseDir: base.baseDir });
    assert.equal(s.status, 'completed', key);
    assert.equal(s.teacher.responseKind, 'top-1');
    assert.match(s.method.targets, /top-1/, key);
    // fs-bbt's views are sent and shown like its other synthetic images; its assistant labels free rows.
    if (key === 'fs-bbt') {
      assert.ok(existsSync(path.join(s.runDir, 'artifacts', 'sent-views.png')), 'fs-bbt: sent-views.png');
      assert.match(s.method.targets, /\+ 60 free MixUp images labelled by a mlp assistant/);
      assert.equal(s.queries, 400, 'the assistant spends no queries');
    }
  }
});
