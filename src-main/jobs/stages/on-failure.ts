import {
  TeacherCircuitOpenError,
  TeacherRateLimitedError,
  TeacherTimeoutError,
  TeacherConnectionError,
} from '../../teachers/errors.ts';
import { TeacherBudgetExceededError } from '../../teachers/query-budget.ts';
import type { RunContext } from './context.ts';

/**
 * Records a session that ended in an error: paused when a resume can get past it (nothing paid
 * for is lost), failed otherwise. The caller rethrows.
 */
export function recordFailure(ctx: RunContext, err: unknown): void {
  const { runId, recipe } = ctx;
  const resumable = isResumableTeacherFailure(err);
  // The budget ran out mid-run: failed requests the teacher may have billed count as spent, so a
  // plan that uses the whole budget can fall short. Nothing paid for is lost; a higher budget finishes it.
  const overBudget = err instanceof TeacherBudgetExceededError;
  ctx.store.updateRun(runId, {
    status: resumable || overBudget ? 'paused' : 'failed',
    error: (err as Error).message,
    pid: null,
  });
  if (resumable || overBudget) {
    const how = overBudget
      ? `\`distill resume ${runId} --budget N\`, with N above ${recipe.budget.queries},`
      : `\`distill resume ${runId}\``;
    ctx.emit({
      type: 'log',
      message: `paused: ${(err as Error).message}. Every reply already paid for is stored; ${how} continues.`,
    });
  }
}

/** Teacher trouble that a later resume can get past: nothing paid for is lost, so pause instead of failing. */
function isResumableTeacherFailure(err: unknown): boolean {
  return (
    err instanceof TeacherCircuitOpenError ||
    err instanceof TeacherRateLimitedError ||
    err instanceof TeacherTimeoutError ||
    err instanceof TeacherConnectionError
  );
}
