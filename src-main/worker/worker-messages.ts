/** Messages between a front end and the run worker process (see run-worker.ts). */
import type { RunEvent } from '../jobs/run-events.ts';
import type { ApiError } from '../util/errors.ts';
import type { Recipe } from '../recipe/recipe-schema.ts';

export type WorkerCommand =
  /** `recipe` was parsed (and so validated) by the front end that sends it. */
  | { type: 'start'; home: string; project: string; recipe: Recipe }
  | { type: 'resume'; home: string; runId: string; budgetQueries?: number };

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'created'; runId: string }
  | { type: 'event'; event: RunEvent }
  | { type: 'done'; runId: string; status: string }
  | { type: 'error'; error: ApiError };
