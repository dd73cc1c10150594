import type { EpochMetrics } from '../store/run-summary.ts';

export type { EpochMetrics } from '../store/run-summary.ts';

/** Progress a run streams to whichever front end started it (CLI, bridge, app, tests). */
export type RunEvent =
  | { type: 'phase'; phase: 'setup' | 'evaluate-teacher' | 'label' | 'train' | 'export' | 'done'; message: string }
  | { type: 'log'; message: string }
  | { type: 'label-progress'; done: number; total: number; spent: number; limit: number; etaSeconds: number }
  | { type: 'step'; epoch: number; epochs: number; step: number; steps: number; etaSeconds: number }
  | { type: 'epoch'; metrics: EpochMetrics; etaSeconds: number };

/** Remaining time from elapsed time and the fraction done. */
export function eta(elapsedSeconds: number, fractionDone: number): number {
  if (fractionDone <= 0) return NaN;
  return Math.max(0, elapsedSeconds * (1 / fractionDone - 1));
}
