import { DistillError } from '../util/errors.ts';

/** Thrown when the store file was written by a newer Distill Workbench than this one. */
export class StoreVersionError extends DistillError {
  override name = 'StoreVersionError';
  readonly code = 'store-version';
}

/** Thrown when another process holds the store's write lock for longer than we wait. */
export class StoreBusyError extends DistillError {
  override name = 'StoreBusyError';
  readonly code = 'store-busy';
}

/**
 * Thrown when a run id names no run, or (`distill export`, locate-run.ts) a run that is not
 * finished or has no saved student.
 */
export class RunNotFoundError extends DistillError {
  override name = 'RunNotFoundError';
  readonly code = 'run-not-found';
}
