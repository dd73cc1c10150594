/**
 * Learning-rate schedules for student training. A schedule is a function of how far the run has
 * got (steps done / steps in the whole run), so a run resumed from a checkpoint, a data-parallel run
 * and a single-thread run all see the same rate at the same step.
 */
import type * as tf from '@tensorflow/tfjs';
import { LR_SCHEDULES } from '../api/vocab.ts';

export { LR_SCHEDULES };
export type LrSchedule = (typeof LR_SCHEDULES)[number];

/**
 * The rate for the step taken when `progress` (0 ≤ progress < 1) of the run is done. `cosine` decays
 * from `base` to 0 over the run, base · ½ (1 + cos π·progress) (Loshchilov & Hutter 2017, without
 * restarts).
 */
export function learningRateAt(base: number, schedule: LrSchedule | undefined, progress: number): number {
  if (!schedule || schedule === 'constant') return base;
  const t = Math.min(Math.max(progress, 0), 1);
  return base * 0.5 * (1 + Math.cos(Math.PI * t));
}

/** The rates of the `steps` steps of epoch `epoch` (1-based) in a run of `totalEpochs` epochs. */
export function epochLearningRates(
  base: number,
  schedule: LrSchedule | undefined,
  epoch: number,
  steps: number,
  totalEpochs: number,
): number[] {
  const total = steps * totalEpochs;
  return Array.from({ length: steps }, (_, step) =>
    learningRateAt(base, schedule, ((epoch - 1) * steps + step) / total),
  );
}

/** Sets the rate the optimizer's next update uses (tfjs keeps it in a protected field, read on every update). */
export function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  (optimizer as unknown as { learningRate: number }).learningRate = lr;
}
