/**
 * One data-parallel training replica, run in a worker thread with its own tfjs backend.
 *
 * Every step, each worker takes its contiguous shard of the global batch, computes the gradient of
 * its shard's mean loss times its share of the rows, and writes it into its own slot of shared
 * memory; the slots then sum to the full batch's mean gradient. After a barrier, every worker sums
 * all slots in the same fixed order and applies the identical Adam update: the replicas stay
 * bit-identical without ever sending weights. BatchNorm moving statistics, which each replica
 * updates from its own shard, are averaged over the workers at the end of every run.
 */
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../backends/select-backend.ts';
// The zoo registers its layer classes (some replace tfjs's own for faster training) on import, so
// the topology sent by the main thread deserialises into the same classes there.
import '../../students/index.ts';
import { createAdam } from '../optimizer.ts';
import { setLearningRate } from '../schedule.ts';
import { readOptimizerState, restoreOptimizerState } from '../optimizer-state.ts';
import { augmentBatch } from '../augment.ts';
import { gatherRows } from '../batch.ts';
import { Rng } from '../../util/rng.ts';
import { AbortedError, CTL, barrier, shard } from './shared.ts';
import { buildHook, buildLoss, type BatchHookFn, type BatchLossFn } from './specs.ts';
import type { FromWorker, InitMessage, RunMessage, ToWorker, WeightValues } from './protocol.ts';

const port = parentPort;
if (!port) throw new Error('training worker started outside a worker thread');

function post(m: FromWorker): void {
  port!.postMessage(m);
}

interface Replica {
  init: InitMessage;
  model: tf.LayersModel;
  variables: tf.Variable[];
  sizes: number[];
  optimizer: tf.Optimizer;
  loss: BatchLossFn;
  hook?: BatchHookFn;
  /** Values per image and per target row. */
  per: number;
  C: number;
  images: Float32Array;
  targets: Float32Array;
  order: Int32Array;
  control: Int32Array;
  slots: Float32Array;
  /** Exchanges so far: picks the bank, so no one overwrites a slot another is still reading. */
  exchanges: number;
  xBuf: Float32Array;
  yBuf: Float32Array;
  scratch: Float32Array;
  sum: Float32Array;
}

let replica: Replica | undefined;

async function setup(m: InitMessage): Promise<Replica> {
  await initBackend({ force: m.backend });
  const model = await tf.models.modelFromJSON({ modelTopology: m.topology } as Parameters<typeof tf.models.modelFromJSON>[0]);
  const shapes = model.getWeights().map((w) => w.shape.join('x'));
  if (shapes.length !== m.weights.length || shapes.some((s, i) => s !== m.weights[i].shape.join('x'))) {
    throw new Error(`the rebuilt model's weights (${shapes.join(', ')}) do not match the ones sent`);
  }
  const start = m.weights.map((w) => tf.tensor(w.values, w.shape));
  model.setWeights(start);
  tf.dispose(start);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const optimizer = createAdam(m.learningRate);
  if (m.optimizer) await restoreOptimizerState(optimizer, m.optimizer);
  const per = m.dims.height * m.dims.width * m.dims.channels;
  const C = m.count ? new Float32Array(m.shared.targets).length / m.count : 0;
  const rows = Math.ceil(m.batchSize / m.workers);
  return {
    init: m,
    model,
    variables,
    sizes: variables.map((v) => v.size),
    optimizer,
    loss: buildLoss(m.loss),
    hook: m.batchHook && buildHook(m.batchHook, per, C),
    per,
    C,
    images: new Float32Array(m.shared.images),
    targets: new Float32Array(m.shared.targets),
    order: new Int32Array(m.shared.order),
    control: new Int32Array(m.shared.control),
    slots: new Float32Array(m.shared.slots),
    exchanges: 0,
    xBuf: new Float32Array(rows * per),
    yBuf: new Float32Array(rows * C),
    scratch: new Float32Array(per),
    sum: new Float32Array(m.slotSize),
  };
}

/** This worker's slot in the next exchange's bank. */
function mySlot(r: Replica): Float32Array {
  const { workers, index, slotSize } = r.init;
  const bank = r.exchanges & 1;
  return r.slots.subarray((bank * workers + index) * slotSize, (bank * workers + index + 1) * slotSize);
}

/**
 * Waits for every worker's slot of this exchange, then writes Σ_w slot_w into r.sum (the first
 * `length` values), always in worker order so every replica gets the same bits.
 */
function exchange(r: Replica, length: number): boolean {
  const { workers, slotSize, barrierTimeoutMs } = r.init;
  const stop = barrier(r.control, workers, barrierTimeoutMs);
  const base = (r.exchanges & 1) * workers * slotSize;
  r.exchanges++;
  const { slots, sum } = r;
  sum.set(slots.subarray(base, base + length));
  for (let w = 1; w < workers; w++) {
    const o = base + w * slotSize;
    for (let i = 0; i < length; i++) sum[i] += slots[o + i];
  }
  return stop;
}

function runSteps(r: Replica, m: RunMessage): FromWorker {
  const { index, workers, dims, count, batchSize, augment } = r.init;
  const { per, C } = r;
  const stepsPerEpoch = Math.ceil(count / batchSize);
  const rng = new Rng(m.seed);
  const total = r.sizes.reduce((a, b) => a + b, 0);
  let lossSum: tf.Tensor = tf.scalar(0);
  let samples = 0;
  let stepsRun = 0;
  let stopped = false;
  try {
    for (let k = m.firstStep; k < m.firstStep + m.steps; k++) {
      if (k === r.init.failAtStep) throw new Error(`injected failure at step ${k}`);
      const b0 = (k % stepsPerEpoch) * batchSize;
      const n = Math.min(batchSize, count - b0);
      const [s0, s1] = shard(n, workers, index);
      const rows = s1 - s0;
      const slot = mySlot(r);
      if (rows > 0) {
        gatherRows(r.images, r.targets, per, C, r.order, b0 + s0, rows, r.xBuf, r.yBuf);
        augmentBatch(r.xBuf, rows, dims, augment, rng, r.scratch);
        r.hook?.(r.xBuf, r.yBuf, rows, rng);
        const x = tf.tensor4d(r.xBuf.subarray(0, rows * per), [rows, dims.height, dims.width, dims.channels]);
        const y = tf.tensor2d(r.yBuf.subarray(0, rows * C), [rows, C]);
        // The shard's mean loss weighted by its share of the rows: the workers' gradients then sum
        // to the full batch's mean gradient. An independent replica trains on its shard's own mean.
        const share = r.init.independent ? 1 : rows / n;
        const { value, grads } = tf.variableGrads(
          () => tf.mul(r.loss(r.model.apply(x, { training: true }) as tf.Tensor2D, y), share) as tf.Scalar,
          r.variables,
        );
        let o = 0;
        r.variables.forEach((v, i) => {
          // A variable the loss does not reach has no gradient (none of the zoo's does).
          const g = grads[v.name];
          if (g) slot.set(g.dataSync() as Float32Array, o);
          else slot.fill(0, o, o + r.sizes[i]);
          o += r.sizes[i];
        });
        const next = tf.add(lossSum, tf.mul(value, n));
        lossSum.dispose();
        lossSum = next;
        tf.dispose([x, y, value, grads]);
      } else {
        slot.fill(0, 0, total);
      }
      let stop: boolean;
      if (r.init.independent) {
        r.sum.set(slot.subarray(0, total));
        stop = Atomics.load(r.control, CTL.STOP) !== 0;
      } else {
        stop = exchange(r, total);
      }
      const named: { name: string; tensor: tf.Tensor }[] = [];
      let o = 0;
      r.variables.forEach((v, i) => {
        named.push({ name: v.name, tensor: tf.tensor(r.sum.subarray(o, o + r.sizes[i]), v.shape) });
        o += r.sizes[i];
      });
      const lr = m.learningRates?.[k - m.firstStep];
      if (lr !== undefined) setLearningRate(r.optimizer, lr);
      r.optimizer.applyGradients(named);
      tf.dispose(named.map((t) => t.tensor));
      samples += n;
      stepsRun++;
      if (m.progress && index === 0) post({ type: 'step', step: (k % stepsPerEpoch) + 1 });
      if (stop) {
        stopped = true;
        break;
      }
    }
    averageNonTrainable(r);
    return { type: 'done', lossSum: lossSum.dataSync()[0], samples, stepsRun, stopped };
  } finally {
    lossSum.dispose();
  }
}

/**
 * BatchNorm's moving mean and variance are updated by each replica from its own shard. Averaging
 * them keeps the replicas identical (so a resume from a checkpoint equals going on); for the mean,
 * the average of the replicas' running averages is exactly the running average of full-batch means.
 */
function averageNonTrainable(r: Replica): void {
  const weights = r.model.nonTrainableWeights;
  if (!weights.length || r.init.workers === 1 || r.init.independent) return;
  const slot = mySlot(r);
  let o = 0;
  for (const w of weights) {
    const values = w.read().dataSync() as Float32Array;
    slot.set(values, o);
    o += values.length;
  }
  exchange(r, o);
  const scale = 1 / r.init.workers;
  for (let i = 0; i < o; i++) r.sum[i] *= scale;
  o = 0;
  for (const w of weights) {
    const size = w.shape.reduce((a: number, b) => a * (b ?? 1), 1);
    const t = tf.tensor(r.sum.slice(o, o + size), w.read().shape);
    w.write(t);
    t.dispose();
    o += size;
  }
}

async function state(r: Replica): Promise<{ weights: WeightValues[]; optimizer: Awaited<ReturnType<typeof readOptimizerState>> }> {
  const weights = r.model.getWeights().map((t) => ({ shape: t.shape, values: Float32Array.from(t.dataSync() as Float32Array) }));
  return { weights, optimizer: await readOptimizerState(r.optimizer) };
}

port.on('message', async (m: ToWorker) => {
  try {
    if (m.type === 'init') {
      replica = await setup(m);
      post({ type: 'ready', trainable: replica.model.trainableWeights.length, nonTrainable: replica.model.nonTrainableWeights.length });
    } else if (m.type === 'run') {
      if (!replica) throw new Error('run before init');
      const done = runSteps(replica, m);
      if (done.type === 'done' && m.returnState && replica.init.index === 0) done.state = await state(replica);
      post(done);
    }
  } catch (err) {
    // The main thread aborted because another worker failed; it already has that error.
    if (err instanceof AbortedError) return;
    const e = err instanceof Error ? err : new Error(String(err));
    post({ type: 'error', message: e.message, stack: e.stack });
  }
});
