/**
 * Runs one recipe as a resumable job: backend, teacher, data, student, method, per-epoch metrics
 * and checkpoints in the store, ONNX export. Front ends (CLI, bridge, app, tests) call
 * `startRun` / `resumeRun` and render the events. A session of a run is the pipeline in
 * `executeRun`; each stage is a function of the run's context, in stages/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Recipe } from '../recipe/recipe-schema.ts';
import { parseRecipe } from '../recipe/load-recipe.ts';
import { resolveWorkers } from '../training/parallel/specs.ts';
import type { RunSummary } from '../store/run-summary.ts';
import { validateRecipeReferences } from './validate-references.ts';
import { absolutizeRecipe } from './recipe-paths.ts';
import { ENGINE_VERSION, createRunContext, type JobOptions, type PlannedQueries } from './stages/context.ts';
import { prepare, planQueries, checkPlanFits } from './stages/prepare.ts';
import { labelHeldOut } from './stages/label-held-out.ts';
import { restoreCheckpoint, train } from './stages/train.ts';
import { finish } from './stages/finish.ts';
import { recordFailure } from './stages/on-failure.ts';

export { ENGINE_VERSION, type JobOptions } from './stages/context.ts';
export type { RunSummary } from '../store/run-summary.ts';
export { PlanOverBudgetError } from './plan-over-budget-error.ts';

/** Validates and records a new run, then executes it. Nothing is created for an invalid recipe. */
export async function startRun(
  opts: JobOptions & {
    recipe: Recipe;
    baseDir: string;
    project?: string;
    /** Called with the run's id as soon as its row exists, before any work (a front end waiting to show the run). */
    onCreated?: (runId: string) => void;
  },
): Promise<RunSummary> {
  const problems = await validateRecipeReferences(opts.recipe, opts.baseDir);
  if (problems.length) throw new Error(`recipe "${opts.recipe.name}" cannot run:\n  - ${problems.join('\n  - ')}`);
  const recipe = absolutizeRecipe(opts.recipe, opts.baseDir);
  // The plan is checked against the budget before anything is recorded or sent; the run checks it
  // again once the teacher has said what it replies (and plans anew only if that differs).
  const preflight = planQueries(recipe, recipe.data.n, recipe.teacher.responseKind ?? 'logits');
  checkPlanFits(preflight, recipe.budget.queries);
  // A bad thread count (--workers, the recipe, DISTILL_WORKERS) would only surface at training,
  // after the teacher has been paid; check it here.
  resolveWorkers(opts.workers ?? recipe.training.workers);
  const runId = `${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-${randomBytes(3).toString('hex')}`;
  const projectId = opts.store.projectId(opts.project ?? 'default');
  opts.store.createRun({ id: runId, projectId, name: recipe.name, recipe, engineVersion: ENGINE_VERSION });
  opts.onCreated?.(runId);
  return executeRun(opts, { runId, projectId, recipe, preflight });
}

/**
 * A resumed run's budget may only go up: a lower limit could fall under what was already paid for.
 * Throws a RangeError that says so.
 */
export function checkBudgetRaise(runId: string, current: number, requested: number): void {
  if (!Number.isInteger(requested) || requested < current) {
    throw new RangeError(`the query budget of run ${runId} can only be raised: it is ${current}, got ${requested}`);
  }
}

/** Continues a paused, cancelled, failed or crashed run from its last checkpoint. */
export async function resumeRun(opts: JobOptions & { runId: string; budgetQueries?: number }): Promise<RunSummary> {
  const run = opts.store.getRun(opts.runId);
  if (run.status === 'completed') throw new Error(`run ${run.id} already completed; nothing to resume`);
  const pid = opts.store.runPid(run.id);
  if (run.status === 'running' && pid && pid !== process.pid && processAlive(pid)) {
    throw new Error(`run ${run.id} is still running in process ${pid}; pause it first (distill pause ${run.id})`);
  }
  const recipe = parseRecipe(run.recipe, `stored recipe of run ${run.id}`);
  resolveWorkers(opts.workers ?? recipe.training.workers);
  const raised = opts.budgetQueries !== undefined && opts.budgetQueries !== recipe.budget.queries;
  const previous = recipe.budget.queries;
  if (opts.budgetQueries !== undefined) {
    checkBudgetRaise(run.id, previous, opts.budgetQueries);
    recipe.budget.queries = opts.budgetQueries;
  }
  const projectId = opts.store.projectId(run.project);
  opts.store.updateRun(run.id, { control: null, error: null, ...(raised ? { recipe } : {}) });
  if (raised) opts.store.logEvent(run.id, 'log', `query budget raised from ${previous} to ${recipe.budget.queries}`);
  return executeRun(opts, { runId: run.id, projectId, recipe });
}

/** One session of a run, top to bottom: prepare, label the held-out images, train, finish. */
async function executeRun(
  opts: JobOptions,
  run: { runId: string; projectId: number; recipe: Recipe; preflight?: PlannedQueries },
): Promise<RunSummary> {
  const ctx = createRunContext(opts, run);
  mkdirSync(ctx.runDir, { recursive: true });
  writeFileSync(path.join(ctx.runDir, 'recipe.json'), JSON.stringify(ctx.recipe, null, 2));
  ctx.store.updateRun(ctx.runId, { status: 'running', pid: process.pid });
  try {
    const prepared = await prepare(ctx);
    try {
      // Before the held-out labelling, so a resumed run says where it resumes from first.
      const resume = await restoreCheckpoint(ctx, prepared.student.model);
      const heldOut = await labelHeldOut(ctx, prepared);
      const trained = await train(ctx, prepared, heldOut, resume);
      return await finish(ctx, prepared, heldOut, trained);
    } finally {
      await prepared.release();
    }
  } catch (err) {
    recordFailure(ctx, err);
    throw err;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
