/**
 * The shared-memory side of data-parallel training: the layout of the control words and the
 * barrier every worker passes once per step. Nothing here imports tfjs, so both threads can load it.
 */
import { DistillError } from '../../util/errors.ts';

/** Indices into the shared Int32Array of control words. */
export const CTL = {
  /** Workers that reached the current barrier. */
  ARRIVED: 0,
  /** Barrier generation; bumped by the last worker to arrive. */
  GENERATION: 1,
  /** Set by the main thread: stop after the step in progress. */
  STOP: 2,
  /** Set by the main thread when a worker failed: everyone leaves at once. */
  ABORT: 3,
  /** STOP as the last arrival saw it, so every worker takes the same decision at the same step. */
  DECISION: 4,
  SIZE: 8,
} as const;

export class AbortedError extends DistillError {
  override name = 'AbortedError';
  readonly code = 'aborted';
}

/**
 * Waits until all `parties` workers have called it. Returns whether to stop after this step: the
 * STOP word read once by the last worker to arrive, so all workers agree. Throws AbortedError when
 * the main thread aborts, and an Error after `timeoutMs` without the others (a hung worker).
 */
export function barrier(ctl: Int32Array, parties: number, timeoutMs: number): boolean {
  const generation = Atomics.load(ctl, CTL.GENERATION);
  if (Atomics.add(ctl, CTL.ARRIVED, 1) === parties - 1) {
    Atomics.store(ctl, CTL.ARRIVED, 0);
    Atomics.store(ctl, CTL.DECISION, Atomics.load(ctl, CTL.STOP));
    Atomics.add(ctl, CTL.GENERATION, 1);
    Atomics.notify(ctl, CTL.GENERATION);
  } else {
    const deadline = Date.now() + timeoutMs;
    while (Atomics.load(ctl, CTL.GENERATION) === generation) {
      if (Atomics.load(ctl, CTL.ABORT)) throw new AbortedError('aborted');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no word from the other training workers for ${Math.round(timeoutMs / 1000)} s`);
      Atomics.wait(ctl, CTL.GENERATION, generation, Math.min(left, 250));
    }
  }
  if (Atomics.load(ctl, CTL.ABORT)) throw new AbortedError('aborted');
  return Atomics.load(ctl, CTL.DECISION) !== 0;
}

/** Rows [start, end) of an n-row batch that worker w of `workers` takes: contiguous, sizes differ by at most one. */
export function shard(n: number, workers: number, w: number): [number, number] {
  return [Math.floor((n * w) / workers), Math.floor((n * (w + 1)) / workers)];
}
