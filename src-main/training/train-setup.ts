/**
 * The types of one training call (trainer.ts): its setup, its resumable state and its result, in
 * their own module so the step runners can name them without importing the loop that runs them.
 */
import type * as tf from '@tensorflow/tfjs';
import type { Rng } from '../util/rng.ts';
import type { AugmentOptions } from './augment.ts';
import type { LrSchedule } from './schedule.ts';
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
