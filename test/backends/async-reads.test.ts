/**
 * WebGPU in Node cannot read a tensor synchronously (tfjs-backend-webgpu's readSync needs an
 * OffscreenCanvas; measured on an H100, docs/results/gpu-h100/). It keeps what an asynchronous read
 * fetched, and serves later synchronous reads of that tensor from it. This test backend behaves the
 * same way on the CPU, so CI, which has no GPU, checks that a run's reads (evaluation, optimizer
 * checkpoints, ONNX export and parity, CVAE sampling) never need a synchronous one.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src-main/backends/select-backend.ts';
import { getStudent } from '../../src-main/students/index.ts';
import { trainStudent, type TrainState } from '../../src-main/training/trainer.ts';
import { softCe } from '../../src-main/methods/losses.ts';
import { predictClasses } from '../../src-main/training/evaluate.ts';
import { exportToOnnx } from '../../src-main/export/onnx-export.ts';
import { checkOnnxParity } from '../../src-main/export/parity.ts';
import { ConditionalVae } from '../../src-main/methods/cvae.ts';
import { Rng } from '../../src-main/util/rng.ts';

const NAME = 'async-reads-only';
const SYNC_READ = /synchronous read/;

before(async () => {
  await initBackend({ force: 'cpu' });
  const Cpu = tf.findBackend('cpu')!.constructor as new () => tf.KernelBackend;
  class AsyncReadsOnly extends Cpu {
    private readonly fetched = new Set<object>();
    override async read(dataId: object): Promise<tf.backend_util.BackendValues> {
      const values = super.readSync(dataId);
      this.fetched.add(dataId);
      return values;
    }
    override readSync(dataId: object): tf.backend_util.BackendValues {
      if (!this.fetched.has(dataId)) throw new Error('synchronous read of a tensor this backend has not fetched');
      return super.readSync(dataId);
    }
  }
  tf.registerBackend(NAME, () => new AsyncReadsOnly());
  for (const k of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...k, backendName: NAME });
  assert.ok(await tf.setBackend(NAME));
});

after(async () => {
  await tf.setBackend('cpu');
  tf.removeBackend(NAME);
});

const dims = { height: 28, width: 28, channels: 1 };

test('the test backend refuses a synchronous read, as WebGPU in Node does', () => {
  const t = tf.tensor([1, 2, 3]);
  assert.throws(() => t.dataSync(), SYNC_READ);
  t.dispose();
});

test('training, checkpoints, evaluation, export and parity read nothing synchronously', async () => {
  const rng = new Rng(3);
  const count = 64;
  const images = Float32Array.from({ length: count * 784 }, () => rng.next());
  const targets = new Float32Array(count * 10);
  for (let i = 0; i < count; i++) targets[i * 10 + (i % 10)] = 1;
  const model = getStudent('lenet5-half').build({ inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
  let state: TrainState | undefined;
  await trainStudent({
    model,
    images,
    targets,
    count,
    dims,
    epochs: 1,
    batchSize: 32,
    learningRate: 1e-3,
    schedule: 'cosine',
    augment: { shift: 1, flip: false },
    rng,
    loss: softCe(),
    workers: 1,
    onEpoch: async (e) => void (state = await e.snapshot()),
  });
  assert.ok(state!.optimizer.length > 0);
  const classes = await predictClasses(model, images, count, dims);
  assert.equal(classes.length, count);
  // Nothing has fetched the trained weights yet: the exporter fetches them itself before its
  // synchronous reads.
  assert.throws(() => model.weights[0].read().dataSync(), SYNC_READ);
  const exported = await exportToOnnx(model);
  const parity = await checkOnnxParity(model, exported.bytes, images, 4);
  assert.ok(parity.maxAbsDiff < 1e-4, `parity ${parity.maxAbsDiff}`);
  model.dispose();
});

test('CVAE samples come back without a synchronous read', async () => {
  const cvae = new ConditionalVae(784, 10, new Rng(1));
  const { images, classes } = await cvae.sample(20, new Rng(2));
  assert.equal(images.length, 20 * 784);
  assert.equal(classes.length, 20);
  cvae.dispose();
});
