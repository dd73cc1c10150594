/**
 * The student training loop shared by methods: Adam, seeded shuffling, optional free
 * augmentation, and a loss named by a spec (step-registry.ts). The epoch loop here is the only
 * one; a step runner trains each epoch's steps, on this thread (local-runner.ts) or data-parallel
 * across worker threads (parallel/data-parallel.ts).
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../util/rng.ts';
import type { AugmentOptions } from './augment.ts';
import { MIN_FLOPS_PER_PARAM_STEP, resolveWorkers, workersByDefault } from './parallel/specs.ts';
import { describeStudent } from '../students/describe.ts';
import { createDataParallelRunner, parallelBackend } from './parallel/data-parallel.ts';
import { createLocalRunner } from './local-runner.ts';
import { epochLearningRates, type LrSchedule } from './schedule.ts';
import type { HookSpec, LossSpec } from './step-registry.ts';

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
  /**
   * The loss of (student logits, batch targets), as a spec both this thread and the worker threads
   * build; needed unless `objective` replaces it.
   */
  loss?: LossSpec;
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
  batchHook?: HookSpec;
  /**
   * Optional replacement for `loss(model(x), y)`: the loss of a batch and the variables it trains
   * (GPD trains a wide dynamic teacher whose slices are the student). Defaults to the model's own.
   * A closure over this thread's objects, so a run with one trains on one thread.
   */
  objective?: { variables: tf.Variable[]; loss: (x: tf.Tensor4D, y: tf.Tensor2D) => tf.Scalar };
  /**
   * Worker threads for data-parallel training (recipe `training.workers`, `--workers`); default:
   * DISTILL_WORKERS, else every core (one thread by default for a student under
   * MIN_FLOPS_PER_PARAM_STEP). Used only without `objective`, on wasm or cpu.
   */
  workers?: number;
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
  if (!s.loss && !s.objective) throw new Error('trainStudent needs a loss or an objective');
  const threads = trainingThreads(s);
  const start = performance.now();
  if (s.resume) s.rng.setState(s.resume.rngState);
  if ((s.resume?.epoch ?? 0) >= s.epochs) return { epochsRun: 0, samplesSeen: 0, seconds: 0, stopped: false };
  const runner = threads > 1 ? await createDataParallelRunner(s, threads) : await createLocalRunner(s);
  const steps = runner.stepsPerEpoch;
  let samplesSeen = 0;
  let epochsRun = 0;
  let stopped = false;
  try {
    for (let epoch = (s.resume?.epoch ?? 0) + 1; epoch <= s.epochs; epoch++) {
      if (runner.stopPending) {
        stopped = true;
        break;
      }
      const t0 = performance.now();
      // The epoch's order depends only on the RNG state, which is all a checkpoint needs to keep.
      const order = runner.order;
      for (let i = 0; i < s.count; i++) order[i] = i;
      s.rng.shuffle(order);
      const r = await runner.runEpoch({
        rates: epochLearningRates(s.learningRate, s.schedule, epoch, steps, s.scheduleEpochs ?? s.epochs),
        onStep: (step) => s.onStep?.({ epoch, step, steps }),
        shouldStop: () => s.shouldStop?.() ?? false,
      });
      samplesSeen += r.samples;
      if (r.stopped) {
        stopped = true;
        break;
      }
      epochsRun = epoch;
      const rngState = s.rng.getState();
      const snapshot = async (): Promise<TrainState> => ({ epoch, rngState, optimizer: await r.optimizer() });
      await s.onEpoch?.({ epoch, epochs: s.epochs, loss: r.lossSum / s.count, seconds: (performance.now() - t0) / 1000, samples: s.count, snapshot });
    }
  } finally {
    await runner.dispose();
  }
  return { epochsRun, samplesSeen, seconds: (performance.now() - start) / 1000, stopped };
}
