/** Messages between a front end and the run worker process (see run-worker.ts). */
import type { RunEvent } from '../jobs/run-events.ts';
import type { ApiError } from '../util/errors.ts';

export type WorkerCommand =
  | { type: 'start'; home: string; project: string; recipe: unknown }
  | { type: 'resume'; home: string; runId: string; budgetQueries?: number };

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'created'; runId: string }
  | { type: 'event'; event: RunEvent }
  | { type: 'done'; runId: string; status: string }
  | { type: 'error'; error: ApiError };
