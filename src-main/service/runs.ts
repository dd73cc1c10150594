/**
 * Starting and steering runs. `pauseRun` and `cancelRun` are what `distill pause|cancel` call too,
 * so the CLI and the UI apply one rule.
 */
import { checkBudgetRaise } from '../jobs/run-distillation.ts';
import type { Store } from '../store/store.ts';
import type { Recipe } from '../recipe/recipe-schema.ts';
import type { ApiHandlers, ServiceContext } from './context.ts';
import { buildRecipe } from './wizard-recipe.ts';

/** Asks a queued or running run to pause after its current step; throws for any other. Returns the full id. */
export function pauseRun(store: Store, runId: string): string {
  const id = store.getRun(runId).id;
  store.requestControl(id, 'pause');
  return id;
}

/** Cancels a paused or failed run at once and asks a queued or running one to stop; throws for a finished run. */
export function cancelRun(store: Store, runId: string): { id: string; outcome: 'cancelled' | 'requested' } {
  const id = store.getRun(runId).id;
  return { id, outcome: store.cancelRun(id) };
}

export function runHandlers(
  ctx: ServiceContext,
): Pick<ApiHandlers, 'runs:start' | 'runs:pause' | 'runs:cancel' | 'runs:resume'> {
  const { store } = ctx;
  return {
    'runs:start': async (req) => {
      const runId = await ctx.runs.start(buildRecipe(req), req.project, ctx.tokenFor(req.teacher.tokenKey));
      ctx.tokenKeys.set(runId, req.teacher.tokenKey);
      return { runId };
    },

    'runs:pause': async ({ runId }) => {
      pauseRun(store, runId);
      return { ok: true };
    },

    'runs:cancel': async ({ runId }) => {
      cancelRun(store, runId);
      return { ok: true };
    },

    'runs:resume': async ({ runId, budget }) => {
      const run = store.getRun(runId);
      // Checked here too, so the UI gets the reason at once rather than from the worker.
      if (budget !== undefined) checkBudgetRaise(run.id, (run.recipe as Recipe).budget.queries, budget);
      await ctx.runs.resume(run.id, ctx.tokenFor(ctx.tokenKeys.get(run.id)), budget);
      return { ok: true };
    },
  };
}
