/**
 * The student training loop shared by methods: Adam, seeded shuffling, optional free
 * augmentation, and a loss given as a function of (student logits, batch targets).
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../util/rng.ts';
import { augmentBatch, type AugmentOptions } from './augment.ts';
import { createAdam } from './optimizer.ts';
import { gatherRows } from './batch.ts';
import { readOptimizerState, restoreOptimizerState } from './optimizer-state.ts';
import { MIN_FLOPS_PER_PARAM_STEP, resolveWorkers, workersByDefault, type ParallelSpec } from './parallel/specs.ts';
import { describeStudent } from '../students/describe.ts';
import { parallelBackend, trainDataParallel } from './parallel/data-parallel.ts';
import { epochLearningRates, setLearningRate, type LrSchedule } from './schedule.ts';

export type BatchLoss = (logits: tf.Tensor2D, targets: tf.Tensor2D) => tf.Scalar;

/** Everything besides the model weights needed to continue training exactly where it stopped. */
export interface TrainState {
  /** Epochs completed. */
  epoch: number;
  rngState: number;
  /** Adam's step count and moment estimates, in the optimizer's own order. */
  optimizer: { name: string; shape: number[]; values: Float32Array }[];
}

export interface EpochEnd {
  epoch: number;
  epochs: number;
  loss: number;
  seconds: number;
  samples: number;
  /** Reads the optimizer and sampler state as of the end of this epoch, for a checkpoint. */
  snapshot: () => Promise<TrainState>;
}

export interface TrainSetup {
  model: tf.LayersModel;
  images: Float32Array;
  /** count × numClasses target rows, in the images' order. */
  targets: Float32Array;
  count: number;
  dims: { height: number; width: number; channels: number };
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** How the learning rate moves over the run (recipe `training.schedule`); default constant. */
  schedule?: LrSchedule;
  /**
   * Epochs the schedule spans, when this call trains only the first part of a longer run (active
   * MixUp trains in phases); default `epochs`.
   */
  scheduleEpochs?: number;
  augment: AugmentOptions;
  rng: Rng;
  loss: BatchLoss;
  /** Called after every epoch with the mean training loss; may be async (evaluation, checkpoints). */
  onEpoch?: (e: EpochEnd) => void | Promise<void>;
  /** Continue from a checkpoint: the model already holds its weights. */
  resume?: TrainState;
  /** Throttled by the caller; called after each step. */
  onStep?: (s: { epoch: number; step: number; steps: number }) => void;
  /** Checked between steps; when it returns true the loop stops after the current step. */
  shouldStop?: () => boolean;
  /**
   * Optional in-place edit of each gathered batch (n rows of images and targets) after
   * augmentation, e.g. on-the-fly MixUp; it costs no teacher queries.
   */
  batchHook?: (images: Float32Array, targets: Float32Array, n: number, rng: Rng) => void;
  /**
   * Optional replacement for `loss(model(x), y)`: the loss of a batch and the variables it trains
   * (GPD trains a wide dynamic teacher whose slices are the student). Defaults to the model's own.
   */
  objective?: { variables: tf.Variable[]; loss: (x: tf.Tensor4D, y: tf.Tensor2D) => tf.Scalar };
  /**
   * Worker threads for data-parallel training (recipe `training.workers`, `--workers`); default:
   * DISTILL_WORKERS, else every core (one thread by default for a student under
   * MIN_FLOPS_PER_PARAM_STEP). Used only with `parallel`, without `objective`, on wasm or cpu.
   */
  workers?: number;
  /**
   * The loss and batch hook as data, which lets training run across worker threads (closures
   * cannot cross threads). It must describe the same computation as `loss` and `batchHook`.
   */
  parallel?: ParallelSpec;
  /** Notes on how training runs (across how many threads, or why on one). */
  log?: (message: string) => void;
}

export interface TrainResult {
  epochsRun: number;
  samplesSeen: number;
  seconds: number;
  stopped: boolean;
}

/** How many threads `s` trains on: more than one only when the setup can run data-parallel. */
export function trainingThreads(s: TrainSetup): number {
  const wanted = resolveWorkers(s.workers);
  if (wanted <= 1) return 1;
  let why = '';
  if (s.objective) why = 'this method trains its own objective, which the worker threads cannot rebuild';
  else if (!s.parallel) why = 'this method\'s loss has no description the worker threads can rebuild';
  else if (!parallelBackend()) why = `worker threads are for the wasm and cpu backends; ${tf.getBackend()} schedules its own`;
  else if (workersByDefault(s.workers)) {
    const d = describeStudent(s.model);
    const perParam = (s.batchSize * d.flops) / Math.max(1, d.trainableParams);
    if (perParam < MIN_FLOPS_PER_PARAM_STEP) {
      why = `at batch ${s.batchSize} this student does ${Math.round(perParam)} FLOPs per parameter per step, under the ${MIN_FLOPS_PER_PARAM_STEP} where worker threads pay; set training.workers or --workers to use them anyway`;
    }
  }
  if (why) {
    s.log?.(`training on one thread: ${why}`);
    return 1;
  }
  const threads = Math.min(wanted, s.batchSize);
  s.log?.(`training data-parallel on ${threads} worker threads (global batch ${s.batchSize} split across them)`);
  return threads;
}

export async function trainStudent(s: TrainSetup): Promise<TrainResult> {
  const threads = trainingThreads(s);
  if (threads > 1) return trainDataParallel(s, threads);
  const { dims, count } = s;
  const per = dims.height * dims.width * dims.channels;
  const C = s.targets.length / count;
  const optimizer = createAdam(s.learningRate);
  // An explicit variable list fixes the order of Adam's slots, so a checkpoint restores into the
  // same places in a freshly built model.
  const variables = s.objective?.variables ?? s.model.trainableWeights.map((w) => w.read() as tf.Variable);
  if (s.resume) {
    await restoreOptimizerState(optimizer, s.resume.optimizer);
    s.rng.setState(s.resume.rngState);
  }
  const order = new Int32Array(count);
  const xBuf = new Float32Array(s.batchSize * per);
  const yBuf = new Float32Array(s.batchSize * C);
  const scratch = new Float32Array(per);
  const steps = Math.ceil(count / s.batchSize);
  const start = performance.now();
  let samplesSeen = 0;
  let epochsRun = 0;
  let stopped = false;
  try {
    for (let epoch = (s.resume?.epoch ?? 0) + 1; epoch <= s.epochs && !stopped; epoch++) {
      const t0 = performance.now();
      // The epoch's order depends only on the RNG state, which is all a checkpoint needs to keep.
      for (let i = 0; i < count; i++) order[i] = i;
      s.rng.shuffle(order);
      let lossSum: tf.Tensor = tf.scalar(0);
      const rates = epochLearningRates(s.learningRate, s.schedule, epoch, steps, s.scheduleEpochs ?? s.epochs);
      for (let step = 0; step < steps; step++) {
        const b0 = step * s.batchSize;
        const n = Math.min(s.batchSize, count - b0);
        gatherRows(s.images, s.targets, per, C, order, b0, n, xBuf, yBuf);
        augmentBatch(xBuf, n, dims, s.augment, s.rng, scratch);
        s.batchHook?.(xBuf, yBuf, n, s.rng);
        const x = tf.tensor4d(xBuf.subarray(0, n * per), [n, dims.height, dims.width, dims.channels]);
        const y = tf.tensor2d(yBuf.subarray(0, n * C), [n, C]);
        setLearningRate(optimizer, rates[step]);
        const objective = s.objective;
        const loss = optimizer.minimize(
          () => (objective ? objective.loss(x, y) : s.loss(s.model.apply(x, { training: true }) as tf.Tensor2D, y)),
          true,
          variables,
        ) as tf.Scalar;
        // Accumulate on the device; one read per epoch instead of a sync per step.
        const next = tf.add(lossSum, tf.mul(loss, n));
        lossSum.dispose();
        lossSum = next;
        tf.dispose([x, y, loss]);
        samplesSeen += n;
        s.onStep?.({ epoch, step: step + 1, steps });
        if (s.shouldStop?.()) {
          stopped = true;
          break;
        }
      }
      const epochLoss = (await lossSum.data())[0] / count;
      lossSum.dispose();
      if (stopped) break;
      epochsRun = epoch;
      const rngState = s.rng.getState();
      const snapshot = async (): Promise<TrainState> => ({ epoch, rngState, optimizer: await readOptimizerState(optimizer) });
      await s.onEpoch?.({ epoch, epochs: s.epochs, loss: epochLoss, seconds: (performance.now() - t0) / 1000, samples: count, snapshot });
    }
  } finally {
    optimizer.dispose();
  }
  return { epochsRun, samplesSeen, seconds: (performance.now() - start) / 1000, stopped };
}
