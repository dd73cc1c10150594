/**
 * One data-parallel training replica, run in a worker thread with its own tfjs backend. worker.ts
 * is the thread's entry; testing.ts starts the same replica with failure injection or without the
 * exchange.
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
import { BatchAssembler } from '../batch.ts';
import { Rng } from '../../util/rng.ts';
import { AbortedError, barrier, shard } from './shared.ts';
import { loadSpecModules, resolveHook, resolveLoss, type BatchLoss } from '../step-registry.ts';
import type { FromWorker, InitMessage, RunMessage, ToWorker, WeightValues } from './protocol.ts';

export interface Replica {
  init: InitMessage;
  model: tf.LayersModel;
  variables: tf.Variable[];
  sizes: number[];
  optimizer: tf.Optimizer;
  loss: BatchLoss;
  batches: BatchAssembler;
  order: Int32Array;
  control: Int32Array;
  slots: Float32Array;
  /** Exchanges so far: picks the bank, so no one overwrites a slot another is still reading. */
  exchanges: number;
  /** The gradient (or weights) every replica applies after an exchange. */
  sum: Float32Array;
}

/**
 * How the replicas combine their gradients: production sums them through shared memory (allReduce);
 * the benchmark's ceiling in testing.ts does without.
 */
export interface Exchange {
  /** What the shard's mean loss is multiplied by before its gradient is taken. */
  share(rows: number, n: number): number;
  /**
   * Puts the gradient this replica applies into r.sum, from its own in `slot` (the first `total`
   * values); returns whether to stop after this step.
   */
  gradients(r: Replica, slot: Float32Array, total: number): boolean;
  /** At the end of every run: brings the replicas' non-trainable weights into agreement. */
  nonTrainable(r: Replica): void;
}

/** What a worker entry may add to the replica. */
export interface ReplicaOptions {
  exchange: Exchange;
  /** Called before global step k; a throw fails the run as any error in a step does. */
  beforeStep?(k: number): void;
}

function post(m: FromWorker): void {
  parentPort!.postMessage(m);
}

async function setup(m: InitMessage): Promise<Replica> {
  await initBackend({ force: m.backend });
  await loadSpecModules(m.modules);
  const model = await tf.models.modelFromJSON({ modelTopology: m.topology } as Parameters<
    typeof tf.models.modelFromJSON
  >[0]);
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
  const source = {
    images: new Float32Array(m.shared.images),
    targets: new Float32Array(m.shared.targets),
    dims: m.dims,
    C,
    augment: m.augment,
    hook: m.batchHook && resolveHook(m.batchHook, { per, C }),
  };
  return {
    init: m,
    model,
    variables,
    sizes: variables.map((v) => v.size),
    optimizer,
    loss: resolveLoss(m.loss),
    batches: new BatchAssembler(source, rows),
    order: new Int32Array(m.shared.order),
    control: new Int32Array(m.shared.control),
    slots: new Float32Array(m.shared.slots),
    exchanges: 0,
    sum: new Float32Array(m.slotSize),
  };
}

/** This worker's slot in the next exchange's bank. */
export function mySlot(r: Replica): Float32Array {
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

function runSteps(r: Replica, m: RunMessage, opts: ReplicaOptions): FromWorker {
  const { index, workers, count, batchSize } = r.init;
  const { exchange: ex } = opts;
  const stepsPerEpoch = Math.ceil(count / batchSize);
  const rng = new Rng(m.seed);
  const total = r.sizes.reduce((a, b) => a + b, 0);
  let lossSum: tf.Tensor = tf.scalar(0);
  let samples = 0;
  let stepsRun = 0;
  let stopped = false;
  try {
    for (let k = m.firstStep; k < m.firstStep + m.steps; k++) {
      opts.beforeStep?.(k);
      const b0 = (k % stepsPerEpoch) * batchSize;
      const n = Math.min(batchSize, count - b0);
      const [s0, s1] = shard(n, workers, index);
      const rows = s1 - s0;
      const slot = mySlot(r);
      if (rows > 0) {
        const { x, y } = r.batches.assemble(r.order, b0 + s0, rows, rng);
        const share = ex.share(rows, n);
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
      const stop = ex.gradients(r, slot, total);
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
    ex.nonTrainable(r);
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
  if (!weights.length || r.init.workers === 1) return;
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

async function state(
  r: Replica,
): Promise<{ weights: WeightValues[]; optimizer: Awaited<ReturnType<typeof readOptimizerState>> }> {
  const weights = r.model
    .getWeights()
    .map((t) => ({ shape: t.shape, values: Float32Array.from(t.dataSync() as Float32Array) }));
  return { weights, optimizer: await readOptimizerState(r.optimizer) };
}

/**
 * The production exchange: the shard's mean loss weighted by its share of the rows, so the workers'
 * gradients sum to the full batch's mean gradient, summed through shared memory; BatchNorm
 * statistics averaged.
 */
export const allReduce: Exchange = {
  share: (rows, n) => rows / n,
  gradients: (r, _slot, total) => exchange(r, total),
  nonTrainable: averageNonTrainable,
};

/** Answers the main thread's messages (protocol.ts) on this worker thread. */
export function serve(opts: ReplicaOptions): void {
  const port = parentPort;
  if (!port) throw new Error('training worker started outside a worker thread');
  let replica: Replica | undefined;
  port.on('message', async (m: ToWorker) => {
    try {
      if (m.type === 'init') {
        replica = await setup(m);
        post({
          type: 'ready',
          trainable: replica.model.trainableWeights.length,
          nonTrainable: replica.model.nonTrainableWeights.length,
        });
      } else if (m.type === 'run') {
        if (!replica) throw new Error('run before init');
        const done = runSteps(replica, m, opts);
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
}
