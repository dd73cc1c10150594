/**
 * Data-parallel training across worker threads must train the same model as one thread: the same
 * weights up to float summation order, the same accuracy, and the same checkpoints and resume;
 * stop requests and worker failures must end it cleanly, never hang it.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src-main/backends/select-backend.ts';
import { getStudent } from '../../src-main/students/index.ts';
import { trainStudent, trainingThreads, type TrainSetup, type TrainState } from '../../src-main/training/trainer.ts';
import { createDataParallelTrainer } from '../../src-main/training/parallel/data-parallel.ts';
import { createInstrumentedTrainer } from '../../src-main/training/parallel/testing.ts';
import { resolveWorkers, WORKERS_ENV_VAR } from '../../src-main/training/parallel/specs.ts';
import type { HookSpec, LossSpec } from '../../src-main/training/step-registry.ts';
import { kdKl } from '../../src-main/methods/losses.ts';
import { mixupHook } from '../../src-main/methods/mixup.ts';
import { loadDataset } from '../../src-main/data/load-dataset.ts';
import { subset, type ImageSet } from '../../src-main/data/image-set.ts';
import { predictClasses, agreement } from '../../src-main/training/evaluate.ts';
import { recipeSchema } from '../../src-main/recipe/recipe-schema.ts';
import { Rng } from '../../src-main/util/rng.ts';

const C = 10;
const dims = { height: 28, width: 28, channels: 1 };
let train: ImageSet;
let testSet: ImageSet;
let targets: Float32Array;

before(async () => {
  await initBackend({ force: 'wasm' });
  // Fashion-MNIST (Debian's full copy or the shipped demo subset): 600 to train on, 1,000 held out.
  train = subset(
    loadDataset({ kind: 'idx', split: 'train' }),
    Array.from({ length: 600 }, (_, i) => i),
  );
  testSet = subset(
    loadDataset({ kind: 'idx', split: 'test' }),
    Array.from({ length: 1000 }, (_, i) => i),
  );
  // Soft targets as kd-soft would give them: most mass on the true class, the rest spread.
  targets = new Float32Array(train.count * C);
  for (let i = 0; i < train.count; i++) {
    for (let c = 0; c < C; c++) targets[i * C + c] = 0.02;
    targets[i * C + train.labels![i]] = 0.82;
  }
});

const KD: LossSpec = kdKl({ temperature: 4 });

type StepSpec = { loss: LossSpec; batchHook?: HookSpec };

function setup(
  model: tf.LayersModel,
  workers: number | undefined,
  over: Partial<TrainSetup> = {},
  spec: StepSpec = { loss: KD },
): TrainSetup {
  return {
    model,
    images: train.images,
    targets,
    count: train.count,
    dims,
    epochs: 1,
    batchSize: 64,
    learningRate: 2e-3,
    augment: { shift: 0, flip: false },
    rng: new Rng(11),
    ...spec,
    workers,
    ...over,
  };
}

const build = (key = 'lenet5-half', seed = 3) =>
  getStudent(key).build({ inputShape: [28, 28, 1], numClasses: C, seed });

function maxAbsDiff(a: tf.LayersModel, b: tf.LayersModel): number {
  const wb = b.getWeights().map((w) => w.dataSync());
  let max = 0;
  a.getWeights().forEach((w, i) => w.dataSync().forEach((v, j) => (max = Math.max(max, Math.abs(v - wb[i][j])))));
  return max;
}

const accuracy = async (m: tf.LayersModel) =>
  agreement(await predictClasses(m, testSet.images, testSet.count, testSet), testSet.labels!);

test('2 workers train lenet5-half to the same weights as one thread (float summation order only)', async () => {
  const one = build();
  const two = build();
  const losses: number[][] = [[], []];
  // 2 epochs of 600 rows at 64: 20 steps, the last of each epoch short (24 rows, 12 per worker).
  const r1 = await trainStudent(setup(one, 1, { epochs: 2, onEpoch: (e) => void losses[0].push(e.loss) }));
  const r2 = await trainStudent(setup(two, 2, { epochs: 2, onEpoch: (e) => void losses[1].push(e.loss) }));
  assert.deepEqual([r1.epochsRun, r1.samplesSeen], [2, 1200]);
  assert.deepEqual([r2.epochsRun, r2.samplesSeen, r2.stopped], [2, 1200, false]);
  const diff = maxAbsDiff(one, two);
  // Adam moves each weight by at most ~lr = 2e-3 a step; reordered sums change the gradients in
  // their last bits, which after 20 steps is a few 1e-7 here.
  assert.ok(diff < 1e-5, `max |w1 − w2| = ${diff}`);
  losses[0].forEach((l, i) =>
    assert.ok(Math.abs(l - losses[1][i]) < 1e-5 * l, `epoch ${i + 1} loss ${l} vs ${losses[1][i]}`),
  );
  one.dispose();
  two.dispose();
});

test('a short training reaches the same held-out accuracy on 2 workers as on one thread', async (t) => {
  for (const [name, over, spec, floor, tolerance] of [
    // Same draws from the run's RNG: the runs differ by rounding only.
    ['plain', {}, { loss: KD }, 0.6, 0.01],
    // Augmentation and on-the-fly MixUp draw from per-worker RNGs: a different (seeded) sample of
    // the same distributions, so the accuracy moves as it would with another seed. Until the hook
    // was a spec, the one-thread run here trained without MixUp (only the workers got it); with it
    // on both, over run seeds 1–4 one thread scored 59.5–63.4 % and 2 workers 62.9–66.5 % (seed 1,
    // this one: 59.5 and 66.5), so the bounds are those of seed-to-seed variation.
    [
      'shift + MixUp',
      { augment: { shift: 1, flip: false } },
      { loss: KD, batchHook: mixupHook({ p: 0.5 }) },
      0.55,
      0.08,
    ],
  ] as const) {
    const acc: number[] = [];
    for (const workers of [1, 2]) {
      const model = build('lenet5-half', 1);
      await trainStudent(setup(model, workers, { epochs: 8, rng: new Rng(1), ...over }, spec));
      acc.push(await accuracy(model));
      model.dispose();
    }
    t.diagnostic(`${name}: one thread ${(acc[0] * 100).toFixed(1)}%, 2 workers ${(acc[1] * 100).toFixed(1)}%`);
    assert.ok(acc[0] > floor, `${name}: the single-thread run should learn (${acc[0]})`);
    assert.ok(Math.abs(acc[0] - acc[1]) <= tolerance, `${name}: ${acc[0]} vs ${acc[1]}`);
  }
});

test('resume from an epoch-end snapshot ends exactly where the uninterrupted run ends (BatchNorm, augmentation, MixUp)', async () => {
  const n = 192;
  const over: Partial<TrainSetup> = {
    count: n,
    images: train.images.subarray(0, n * 784),
    targets: targets.subarray(0, n * C),
    batchSize: 32,
    augment: { shift: 1, flip: true },
  };
  const spec: StepSpec = { loss: KD, batchHook: mixupHook({ p: 0.5 }) };
  const straight = build('mobilenet-tiny');
  const curve: number[] = [];
  await trainStudent(setup(straight, 2, { ...over, epochs: 3, onEpoch: (e) => void curve.push(e.loss) }, spec));

  const first = build('mobilenet-tiny');
  let state: TrainState | undefined;
  await trainStudent(
    setup(first, 2, { ...over, epochs: 1, onEpoch: async (e) => void (state = await e.snapshot()) }, spec),
  );
  assert.equal(state?.epoch, 1);
  // As a checkpoint would: a freshly built model given the saved weights, a fresh RNG given the state.
  const resumed = build('mobilenet-tiny', 99);
  resumed.setWeights(first.getWeights());
  const rest: number[] = [];
  const r = await trainStudent(
    setup(
      resumed,
      2,
      { ...over, epochs: 3, rng: new Rng(12345), resume: state, onEpoch: (e) => void rest.push(e.loss) },
      spec,
    ),
  );
  assert.equal(r.epochsRun, 3);
  assert.deepEqual(rest, curve.slice(1));
  assert.equal(maxAbsDiff(straight, resumed), 0);
  [straight, first, resumed].forEach((m) => m.dispose());
});

test('a single-thread checkpoint resumes on 2 workers, and the other way round', async () => {
  const a = build();
  let state: TrainState | undefined;
  await trainStudent(setup(a, 1, { onEpoch: async (e) => void (state = await e.snapshot()) }));
  const both = [build(), build()];
  for (const [i, m] of both.entries()) {
    m.setWeights(a.getWeights());
    await trainStudent(setup(m, i + 1, { epochs: 2, resume: state, rng: new Rng(0) }));
  }
  const diff = maxAbsDiff(both[0], both[1]);
  assert.ok(diff < 1e-5, `max |w1 − w2| = ${diff}`);

  let parallelState: TrainState | undefined;
  const b = build();
  await trainStudent(setup(b, 2, { onEpoch: async (e) => void (parallelState = await e.snapshot()) }));
  // The same optimizer layout as a single-thread snapshot, so checkpoints are interchangeable.
  assert.deepEqual(
    parallelState!.optimizer.map((w) => w.shape),
    state!.optimizer.map((w) => w.shape),
  );
  const c = build();
  c.setWeights(b.getWeights());
  const r = await trainStudent(setup(c, 1, { epochs: 2, resume: parallelState }));
  assert.equal(r.epochsRun, 2);
  [a, b, c, ...both].forEach((m) => m.dispose());
});

test('a stop request mid-epoch ends training after the step in progress, with no epoch reported', async () => {
  const model = build();
  let steps = 0;
  let epochs = 0;
  const r = await trainStudent(
    setup(model, 2, {
      epochs: 3,
      onStep: () => void steps++,
      shouldStop: () => steps >= 3,
      onEpoch: () => void epochs++,
    }),
  );
  assert.equal(r.stopped, true);
  assert.equal(r.epochsRun, 0);
  assert.equal(epochs, 0);
  // The workers see the request at the next step's exchange at the latest.
  assert.ok(r.samplesSeen >= 3 * 64 && r.samplesSeen < 600, `samples ${r.samplesSeen}`);
  model.dispose();
});

// The timeout turns a failure handling that hangs (a lost error message, a barrier nobody aborts)
// into a failed test rather than a stuck run.
test(
  'a worker that throws rejects the run at once, and the other workers do not hang',
  { timeout: 60_000 },
  async () => {
    const model = build();
    const trainer = await createInstrumentedTrainer(
      {
        model,
        workers: 2,
        images: train.images,
        targets,
        count: train.count,
        dims,
        batchSize: 64,
        learningRate: 1e-3,
        loss: KD,
        barrierTimeoutMs: 60_000,
      },
      { failAt: { worker: 1, step: 2 } },
    );
    const t0 = performance.now();
    await assert.rejects(trainer.runSteps(5), /training worker 1 failed: injected failure at step 2/);
    assert.ok(performance.now() - t0 < 10_000, 'the failure must not wait for a barrier timeout');
    await assert.rejects(trainer.runSteps(1), /injected failure/);
    await trainer.dispose();

    // A worker that cannot start (a backend that is not installed) fails creation with its reason.
    await assert.rejects(
      createDataParallelTrainer({
        model,
        workers: 2,
        images: train.images,
        targets,
        count: train.count,
        dims,
        batchSize: 64,
        learningRate: 1e-3,
        loss: KD,
        backend: 'tfjs-node-gpu',
      }),
      /training worker \d failed: .*tfjs-node-gpu/,
    );
    model.dispose();
  },
);

test('the step-level API reports throughput and keeps the replicas in step', async () => {
  const model = build();
  const trainer = await createDataParallelTrainer({
    model,
    workers: 2,
    images: train.images,
    targets,
    count: train.count,
    dims,
    batchSize: 64,
    learningRate: 1e-3,
    loss: KD,
  });
  try {
    const r = await trainer.runSteps(12);
    assert.equal(r.samples, 9 * 64 + 24 + 2 * 64);
    assert.ok(r.samplesPerSecond > 0 && Number.isFinite(r.loss));
    const one = await trainer.step();
    assert.equal(one.samples, 64);
    const state = await trainer.state();
    assert.equal(state.weights.length, model.getWeights().length);
  } finally {
    await trainer.dispose();
  }
  model.dispose();
});

test('by default a student with too little arithmetic per parameter trains on one thread; an explicit count is obeyed', () => {
  const saved = process.env[WORKERS_ENV_VAR];
  const mlp = build('mlp');
  const lenet = build('lenet5-half');
  try {
    delete process.env[WORKERS_ENV_VAR];
    const notes: string[] = [];
    const log = (m: string) => void notes.push(m);
    // mlp: 0.47 MFLOPs per image over 235,146 parameters, 128 FLOPs per parameter per step at batch 64.
    assert.equal(trainingThreads(setup(mlp, undefined, { log })), 1);
    assert.match(notes[0], /one thread: at batch 64 this student does 128 FLOPs per parameter per step, under the 550/);
    assert.equal(trainingThreads(setup(mlp, undefined, { log, batchSize: 256 })), 1);
    // At batch 512 it does 1,024, and the workers are used.
    assert.equal(
      trainingThreads(setup(mlp, undefined, { log, batchSize: 512 })),
      Math.min(os.availableParallelism(), 512),
    );
    assert.equal(trainingThreads(setup(lenet, undefined, { log })), Math.min(os.availableParallelism(), 64));
    // An explicit count, from the recipe or the environment, is not second-guessed.
    assert.equal(trainingThreads(setup(mlp, 2, { log })), 2);
    process.env[WORKERS_ENV_VAR] = '2';
    assert.equal(trainingThreads(setup(mlp, undefined, { log })), 2);
  } finally {
    if (saved === undefined) delete process.env[WORKERS_ENV_VAR];
    else process.env[WORKERS_ENV_VAR] = saved;
    mlp.dispose();
    lenet.dispose();
  }
});

test('the thread count: setting, DISTILL_WORKERS, every core; one thread where workers cannot rebuild the step', () => {
  const saved = process.env[WORKERS_ENV_VAR];
  try {
    delete process.env[WORKERS_ENV_VAR];
    assert.ok(resolveWorkers() >= 1);
    process.env[WORKERS_ENV_VAR] = '3';
    assert.equal(resolveWorkers(), 3);
    assert.equal(resolveWorkers(1), 1);
    process.env[WORKERS_ENV_VAR] = 'many';
    assert.throws(() => resolveWorkers(), /DISTILL_WORKERS='many' is not a positive integer/);
    assert.throws(() => resolveWorkers(0), /positive integer/);
  } finally {
    if (saved === undefined) delete process.env[WORKERS_ENV_VAR];
    else process.env[WORKERS_ENV_VAR] = saved;
  }
  const model = build();
  const notes: string[] = [];
  const log = (m: string) => void notes.push(m);
  // Every loss is a spec the workers rebuild; only a method's own objective keeps training on one thread.
  assert.equal(trainingThreads(setup(model, 4, { log, batchSize: 2 })), 2);
  assert.equal(trainingThreads(setup(model, 4, { log, objective: { variables: [], loss: () => tf.scalar(0) } })), 1);
  assert.equal(trainingThreads(setup(model, 1, { log })), 1);
  assert.match(notes[0], /data-parallel on 2 worker threads/);
  assert.match(notes[1], /one thread: .*objective/);
  assert.equal(notes.length, 2);
  model.dispose();

  const recipe = {
    version: 1,
    name: 'x',
    teacher: { protocol: 'onnx-local' },
    data: { train: { kind: 'idx' }, n: 10 },
    student: { key: 'mlp' },
    method: { key: 'kd-soft' },
    budget: { queries: 10 },
  };
  assert.equal(recipeSchema.parse({ ...recipe, training: { epochs: 1, workers: 2 } }).training.workers, 2);
  assert.equal(recipeSchema.parse({ ...recipe, training: { epochs: 1 } }).training.workers, undefined);
  assert.ok(!recipeSchema.safeParse({ ...recipe, training: { epochs: 1, workers: 0 } }).success);
});

test("independent replicas (bench:train's ceiling) exchange nothing: worker 0 trains on its own shard alone", async () => {
  const steps = 4;
  const run = async (
    workers: number,
    independentReplicas: boolean,
    images: Float32Array,
    tgt: Float32Array,
    count: number,
    batchSize: number,
  ) => {
    const model = build();
    const trainer = await createInstrumentedTrainer(
      {
        model,
        workers,
        images,
        targets: tgt,
        count,
        dims,
        batchSize,
        learningRate: 1e-3,
        loss: KD,
      },
      { independentReplicas },
    );
    try {
      await trainer.runSteps(steps);
      return (await trainer.state()).weights;
    } finally {
      await trainer.dispose();
      model.dispose();
    }
  };
  // Worker 0's shard of each 64-row batch is its first 32 rows.
  const rows = Array.from({ length: steps * 32 }, (_, i) => Math.floor(i / 32) * 64 + (i % 32));
  const per = 28 * 28;
  const shardImages = new Float32Array(rows.length * per);
  const shardTargets = new Float32Array(rows.length * C);
  rows.forEach((r, i) => {
    shardImages.set(train.images.subarray(r * per, (r + 1) * per), i * per);
    shardTargets.set(targets.subarray(r * C, (r + 1) * C), i * C);
  });
  const independent = await run(2, true, train.images, targets, train.count, 64);
  const alone = await run(1, false, shardImages, shardTargets, rows.length, 32);
  const exchanged = await run(2, false, train.images, targets, train.count, 64);
  const diff = (a: typeof alone, b: typeof alone) =>
    Math.max(...a.map((w, i) => Math.max(...w.values.map((v, j) => Math.abs(v - b[i].values[j])))));
  assert.ok(diff(independent, alone) < 1e-6, `independent worker 0 vs its shard alone: ${diff(independent, alone)}`);
  assert.ok(diff(exchanged, alone) > 1e-3, `the exchanged run should differ: ${diff(exchanged, alone)}`);
});
