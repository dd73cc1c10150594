/**
 * The learning-rate schedule: its values, that one thread and the data-parallel workers apply the
 * same rate at every step, and that a run resumed from a checkpoint continues the same curve.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src-main/backends/select-backend.ts';
import { getStudent } from '../../src-main/students/index.ts';
import { trainStudent, type TrainSetup, type TrainState } from '../../src-main/training/trainer.ts';
import { epochLearningRates, learningRateAt } from '../../src-main/training/schedule.ts';
import { kdKl } from '../../src-main/methods/losses.ts';
import { loadDataset } from '../../src-main/data/load-dataset.ts';
import { subset, type ImageSet } from '../../src-main/data/image-set.ts';
import { recipeSchema } from '../../src-main/recipe/recipe-schema.ts';
import { Rng } from '../../src-main/util/rng.ts';

const C = 10;
const dims = { height: 28, width: 28, channels: 1 };
const KD = kdKl({ temperature: 4 });
let train: ImageSet;
let targets: Float32Array;

before(async () => {
  await initBackend({ force: 'wasm' });
  train = subset(
    loadDataset({ kind: 'idx', split: 'train' }),
    Array.from({ length: 256 }, (_, i) => i),
  );
  targets = new Float32Array(train.count * C);
  for (let i = 0; i < train.count; i++) {
    for (let c = 0; c < C; c++) targets[i * C + c] = 0.02;
    targets[i * C + train.labels![i]] = 0.82;
  }
});

function setup(model: tf.LayersModel, workers: number, over: Partial<TrainSetup> = {}): TrainSetup {
  return {
    model,
    images: train.images,
    targets,
    count: train.count,
    dims,
    epochs: 3,
    batchSize: 32,
    learningRate: 2e-3,
    schedule: 'cosine',
    augment: { shift: 0, flip: false },
    rng: new Rng(5),
    loss: KD,
    workers,
    ...over,
  };
}

const build = (seed = 3) => getStudent('lenet5-half').build({ inputShape: [28, 28, 1], numClasses: C, seed });

function maxAbsDiff(a: tf.LayersModel, b: tf.LayersModel): number {
  const wb = b.getWeights().map((w) => w.dataSync());
  let max = 0;
  a.getWeights().forEach((w, i) => w.dataSync().forEach((v, j) => (max = Math.max(max, Math.abs(v - wb[i][j])))));
  return max;
}

test('cosine goes from the base rate through half of it at mid-run to 0; constant stays put', () => {
  assert.equal(learningRateAt(0.004, 'cosine', 0), 0.004);
  assert.ok(Math.abs(learningRateAt(0.004, 'cosine', 0.5) - 0.002) < 1e-12);
  assert.ok(Math.abs(learningRateAt(0.004, 'cosine', 0.25) - 0.004 * (0.5 + Math.SQRT1_2 / 2)) < 1e-12);
  assert.ok(learningRateAt(0.004, 'cosine', 1) < 1e-18);
  for (const p of [0, 0.3, 0.99]) {
    assert.equal(learningRateAt(0.004, 'constant', p), 0.004);
    assert.equal(learningRateAt(0.004, undefined, p), 0.004);
  }
  // 4 epochs of 5 steps: step k of the run has progress k / 20.
  const all = [1, 2, 3, 4].flatMap((e) => epochLearningRates(1, 'cosine', e, 5, 4));
  assert.equal(all.length, 20);
  all.forEach((lr, k) =>
    assert.ok(Math.abs(lr - 0.5 * (1 + Math.cos((Math.PI * k) / 20))) < 1e-12, `step ${k}: ${lr}`),
  );
  for (let k = 1; k < 20; k++) assert.ok(all[k] < all[k - 1]);
  assert.ok(all[19] > 0, 'the last step still moves the weights');
});

test('the recipe takes constant (the default) or cosine, and names the choices otherwise', () => {
  const base = {
    version: 1,
    name: 'x',
    teacher: { protocol: 'onnx-local', model: 'm.onnx' },
    data: { train: { kind: 'idx', dir: 'd', split: 'train' }, n: 10 },
    student: { key: 'lenet5' },
    method: { key: 'kd-soft' },
    budget: { queries: 10 },
  };
  assert.equal(recipeSchema.parse({ ...base, training: { epochs: 1 } }).training.schedule, 'constant');
  assert.equal(
    recipeSchema.parse({ ...base, training: { epochs: 1, schedule: 'cosine' } }).training.schedule,
    'cosine',
  );
  const bad = recipeSchema.safeParse({ ...base, training: { epochs: 1, schedule: 'linear' } });
  assert.equal(bad.success, false);
  assert.match(JSON.stringify(bad.error!.issues), /constant.*cosine/);
});

test('one thread and 2 workers apply the same cosine rates, and they differ from a constant rate', async () => {
  const one = build();
  const two = build();
  const flat = build();
  await trainStudent(setup(one, 1));
  await trainStudent(setup(two, 2));
  await trainStudent(setup(flat, 1, { schedule: 'constant' }));
  const same = maxAbsDiff(one, two);
  assert.ok(same < 1e-5, `cosine, 1 vs 2 workers: max |w1 − w2| = ${same}`);
  // 24 steps whose rates fall from 2e-3 towards 0 move the weights visibly less far than 24 at 2e-3.
  const apart = maxAbsDiff(one, flat);
  assert.ok(apart > 1e-3, `cosine vs constant: max |w1 − w2| = ${apart}`);
  [one, two, flat].forEach((m) => m.dispose());
});

test('a run resumed from its first epoch continues the schedule of the whole run, on one thread and on 2 workers', async () => {
  for (const workers of [1, 2]) {
    const straight = build();
    await trainStudent(setup(straight, workers));
    // The first part trains 1 epoch of a 3-epoch schedule, as a run stopped after epoch 1 would have.
    const first = build();
    let state: TrainState | undefined;
    await trainStudent(
      setup(first, workers, { epochs: 1, scheduleEpochs: 3, onEpoch: async (e) => void (state = await e.snapshot()) }),
    );
    const resumed = build(99);
    resumed.setWeights(first.getWeights());
    await trainStudent(setup(resumed, workers, { rng: new Rng(777), resume: state }));
    assert.equal(maxAbsDiff(straight, resumed), 0, `${workers} worker(s)`);
    // Without scheduleEpochs the first part would have decayed to 0 within its one epoch.
    const short = build();
    await trainStudent(setup(short, workers, { epochs: 1 }));
    assert.ok(maxAbsDiff(short, first) > 0, `${workers} worker(s): a 1-epoch schedule should differ`);
    [straight, first, resumed, short].forEach((m) => m.dispose());
  }
});
