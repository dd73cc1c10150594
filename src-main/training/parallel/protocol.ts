/** Messages between the main thread and the data-parallel training workers. */
import type { BackendKey } from '../../backends/select-backend.ts';
import type { AugmentOptions } from '../augment.ts';
import type { OptimizerWeight } from '../optimizer-state.ts';
import type { HookSpec, LossSpec } from '../step-registry.ts';

export interface WeightValues {
  shape: number[];
  values: Float32Array;
}

export interface InitMessage {
  type: 'init';
  index: number;
  workers: number;
  backend: BackendKey;
  /** `model.toJSON(null, false)`: the worker rebuilds the same architecture from it. */
  topology: object;
  /** `model.getWeights()`, in order: the starting point of every replica. */
  weights: WeightValues[];
  /** Adam's state to continue from (a checkpoint's), or none for a fresh optimizer. */
  optimizer?: OptimizerWeight[];
  learningRate: number;
  /** The modules that define the loss and the hook (specModules): the worker imports them first. */
  modules: string[];
  loss: LossSpec;
  batchHook?: HookSpec;
  augment: AugmentOptions;
  dims: { height: number; width: number; channels: number };
  count: number;
  batchSize: number;
  /** Floats per worker slot: the larger of the trainable and the non-trainable weight counts. */
  slotSize: number;
  barrierTimeoutMs: number;
  shared: {
    images: SharedArrayBuffer;
    targets: SharedArrayBuffer;
    order: SharedArrayBuffer;
    control: SharedArrayBuffer;
    /** Two banks (alternate exchanges) of `workers` slots of `slotSize` floats. */
    slots: SharedArrayBuffer;
  };
}

export interface RunMessage {
  type: 'run';
  /** Global step indices [firstStep, firstStep + steps); step k trains batch k mod stepsPerEpoch of the shared order. */
  firstStep: number;
  steps: number;
  /** This worker's seed for augmentation and the batch hook in this run. */
  seed: number;
  /** Worker 0 posts a `step` message after every step. */
  progress: boolean;
  /** Worker 0 sends its weights and optimizer state with `done`. */
  returnState: boolean;
  /** The learning rate of each step of this run, from the schedule; absent: the initial one. */
  learningRates?: number[];
}

export type ToWorker = InitMessage | RunMessage;

export type FromWorker =
  | { type: 'ready'; trainable: number; nonTrainable: number }
  | { type: 'step'; step: number }
  | {
      type: 'done';
      /** Σ over this worker's steps of (its rows × its mean loss). */
      lossSum: number;
      /** Rows of the global batches trained (the same on every worker). */
      samples: number;
      stepsRun: number;
      stopped: boolean;
      state?: { weights: WeightValues[]; optimizer: OptimizerWeight[] };
    }
  | { type: 'error'; message: string; stack?: string };
