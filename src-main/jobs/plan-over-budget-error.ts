import { DistillError } from '../util/errors.ts';

/** The plan needs more queries than the budget allows; nothing was sent. */
export class PlanOverBudgetError extends DistillError {
  override name = 'PlanOverBudgetError';
  readonly code = 'plan-over-budget';
}
