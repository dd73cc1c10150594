/** The plan needs more queries than the budget allows; nothing was sent. */
export class PlanOverBudgetError extends Error {
  override name = 'PlanOverBudgetError';
}
