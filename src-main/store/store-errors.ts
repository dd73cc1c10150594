/** Thrown when the store file was written by a newer Distill Workbench than this one. */
export class StoreVersionError extends Error {
  override name = 'StoreVersionError';
}

/** Thrown when another process holds the store's write lock for longer than we wait. */
export class StoreBusyError extends Error {
  override name = 'StoreBusyError';
}

/** Thrown when a run id names no run. */
export class RunNotFoundError extends Error {
  override name = 'RunNotFoundError';
}
