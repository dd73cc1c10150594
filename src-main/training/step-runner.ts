/**
 * What the epoch loop (trainer.ts) needs from whatever trains the steps: on this thread
 * (local-runner.ts) or across worker threads (parallel/data-parallel.ts). The loop owns the epochs,
 * the run's RNG, the schedule, the callbacks and the checkpoints; a runner trains one epoch's steps
 * over the order the loop shuffled.
 */
import type { OptimizerWeight } from './optimizer-state.ts';

export interface EpochSteps {
  /** The learning rate of each step of the epoch, from the schedule. */
  rates: number[];
  /** Called after each step with its number in the epoch (1-based). */
  onStep(step: number): void;
  /** Asked after each step; true: stop as soon as the runner can (after the step, or at the next exchange). */
  shouldStop(): boolean;
}

export interface EpochOutcome {
  /** Σ over the steps run of rows × the batch's mean loss. */
  lossSum: number;
  /** Rows trained. */
  samples: number;
  /** The epoch ended early on a stop request. */
  stopped: boolean;
  /** Adam's state as of the end of this epoch, in the optimizer's own order, for a checkpoint. */
  optimizer(): Promise<OptimizerWeight[]>;
}

export interface StepRunner {
  readonly stepsPerEpoch: number;
  /** The order rows are read in; the loop shuffles it with the run's RNG before each epoch. */
  readonly order: Int32Array;
  /** A stop was asked for too late to act on within the last epoch: begin no other. */
  readonly stopPending: boolean;
  runEpoch(e: EpochSteps): Promise<EpochOutcome>;
  dispose(): Promise<void>;
}
