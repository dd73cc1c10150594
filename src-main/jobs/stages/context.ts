/**
 * What every stage of a run is given: the run's identity and folders, its recipe, the store, how
 * to report progress and how to notice a pause or cancel. Built once per session of a run.
 */
import path from 'node:path';
import type { Recipe } from '../../recipe/recipe-schema.ts';
import type { BackendChoice, BackendKey } from '../../backends/select-backend.ts';
import type { TeacherClientOptions } from '../../teachers/teacher-client.ts';
import type { TeacherInfo } from '../../teachers/teacher.ts';
import type { ImageSet } from '../../data/image-set.ts';
import type { PlanContext, QueryPlan } from '../../methods/method.ts';
import type { Store } from '../../store/store.ts';
import type { ReplyPurpose } from '../../store/sqlite-reply-cache.ts';
import type { RunEvent } from '../run-events.ts';

export const ENGINE_VERSION = '0.1.0';

export interface JobOptions {
  store: Store;
  /** Where run folders are written. */
  home: string;
  /** Overrides the recipe's backend. */
  backend?: BackendKey;
  /** Overrides the recipe's `training.workers` (data-parallel training threads). */
  workers?: number;
  onEvent?: (e: RunEvent) => void;
  /** Set `stop` to 'pause' or 'cancel' to end the run after the current step (e.g. on Ctrl-C). */
  signal?: { stop?: 'pause' | 'cancel' };
  /** Where checkpoints go (default: the run folder's `checkpoints/`). */
  checkpointDir?: string;
  /** Checkpoints kept besides the best one (default 2). */
  keepCheckpoints?: number;
}

/** A method's query plan with the inputs it was made for. */
export interface PlannedQueries {
  inputs: PlanContext;
  plan: QueryPlan;
}

export interface RunContext {
  readonly opts: JobOptions;
  readonly store: Store;
  readonly runId: string;
  readonly projectId: number;
  readonly recipe: Recipe;
  readonly runDir: string;
  readonly checkpointDir: string;
  /** performance.now() when this session began. */
  readonly started: number;
  /** The plan startRun checked before recording the run; the prepare stage reuses it when nothing changed. */
  readonly preflight?: PlannedQueries;
  /** Sends an event to the front end; phases and log lines also go to the store's event log. */
  emit(e: RunEvent): void;
  /** Writes what the run learns into its row as soon as it is known. */
  readonly record: {
    backend(backend: BackendChoice): void;
    teacher(info: TeacherInfo): void;
    dataset(source: string, fingerprint: string, local: ImageSet): void;
  };
  /** True once a pause or cancel was asked for (by the signal, or through the store by any process). */
  shouldStop(): boolean;
  /** Which stop was asked for, once shouldStop() said so. */
  stopRequested(): 'pause' | 'cancel' | null;
}

export function createRunContext(
  opts: JobOptions,
  run: { runId: string; projectId: number; recipe: Recipe; preflight?: PlannedQueries },
): RunContext {
  const { store } = opts;
  const { runId, projectId, recipe } = run;
  const runDir = path.join(opts.home, 'runs', runId);
  let lastControlCheck = 0;
  let control: 'pause' | 'cancel' | null = null;
  return {
    opts,
    store,
    runId,
    projectId,
    recipe,
    runDir,
    checkpointDir: opts.checkpointDir ? path.join(opts.checkpointDir, runId) : path.join(runDir, 'checkpoints'),
    started: performance.now(),
    preflight: run.preflight,
    emit: (e) => {
      if (e.type === 'phase' || e.type === 'log') store.logEvent(runId, e.type, e.message);
      opts.onEvent?.(e);
    },
    record: {
      backend: (backend) => store.updateRun(runId, { backend }),
      teacher: (info) =>
        store.updateRun(runId, {
          teacherId: store.teacherId(projectId, {
            identity: info.id,
            protocol: info.protocol,
            name: info.name,
            settings: recipe.teacher,
          }),
        }),
      dataset: (source, fingerprint, local) =>
        store.updateRun(runId, {
          datasetId: store.datasetId(projectId, {
            source,
            fingerprint,
            count: local.count,
            height: local.height,
            width: local.width,
            channels: local.channels,
          }),
        }),
    },
    shouldStop: () => {
      if (opts.signal?.stop) control = opts.signal.stop;
      const now = performance.now();
      if (!control && now - lastControlCheck > 500) {
        lastControlCheck = now;
        control = store.readControl(runId);
      }
      return control !== null;
    },
    stopRequested: () => control,
  };
}

/** The teacher client settings from the recipe, with the run's reply cache for `purpose`. */
export function clientOptions(ctx: RunContext, purpose: ReplyPurpose): TeacherClientOptions {
  const t = ctx.recipe.teacher;
  return {
    maxBatch: t.maxBatch,
    concurrency: t.concurrency,
    retries: t.retries,
    circuitThreshold: t.circuitThreshold,
    cache: ctx.store.replyCache(ctx.runId, purpose),
    onRetry: (r) =>
      ctx.emit({ type: 'log', message: `teacher: ${r.error.message}; retrying in ${Math.round(r.delayMs)} ms` }),
  };
}
