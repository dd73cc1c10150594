/**
 * A hard limit on samples sent to a teacher. Callers reserve before sending, so the limit holds
 * even with many requests in flight; a failed request gives its reservation back.
 */
export class TeacherBudgetExceededError extends Error {
  override name = 'TeacherBudgetExceededError';
  constructor(
    readonly requested: number,
    readonly remaining: number,
    readonly limit: number,
  ) {
    super(`query budget exhausted: ${requested} more sample(s) requested, ${remaining} of ${limit} left`);
  }
}

export class QueryBudget {
  private reserved = 0;
  private used = 0;

  /** `limit` samples may ever be sent; Infinity for no limit. */
  constructor(readonly limit: number) {
    if (!(limit >= 0)) throw new RangeError(`query budget must be ≥ 0, got ${limit}`);
  }

  get spent(): number {
    return this.used;
  }

  get remaining(): number {
    return this.limit - this.used - this.reserved;
  }

  /** Claims `n` samples or throws without claiming any. */
  reserve(n: number): void {
    if (n > this.remaining) throw new TeacherBudgetExceededError(n, this.remaining, this.limit);
    this.reserved += n;
  }

  /** The reserved samples were sent and answered. */
  commit(n: number): void {
    this.reserved -= n;
    this.used += n;
  }

  /** The reserved samples were not sent (or their reply is unusable and the API did not bill). */
  release(n: number): void {
    this.reserved -= n;
  }
}
