import { DistillError } from '../util/errors.ts';

/**
 * A hard limit on samples sent to a teacher (issue item 3). Callers reserve before sending, so the
 * limit holds even with many requests in flight: spent + reserved never exceeds the limit.
 *
 * What counts as spent (see TeacherClient): every sample of a request the teacher may have run —
 * answered requests, and also 5xx, timeouts, resets after sending and unusable 2xx replies, since a
 * paid API may bill those. Requests refused before inference (400/401/403/404/429) or never
 * sent (connection refused) give their reservation back.
 */
export class TeacherBudgetExceededError extends DistillError {
  override name = 'TeacherBudgetExceededError';
  readonly code = 'budget-exhausted';
  constructor(
    readonly requested: number,
    readonly remaining: number,
    readonly limit: number,
  ) {
    super(`query budget exhausted: ${requested} more sample(s) requested, ${remaining} of ${limit} left`);
  }
}

export interface QueryBudgetOptions {
  /** User-set price per 1,000 queries, for `costEstimate` (default 0). */
  pricePer1000?: number;
  /** Called with each committed count, e.g. to add it to the project's total in the store. */
  onSpend?: (samples: number) => void;
}

export class QueryBudget {
  private reserved = 0;
  private used = 0;
  readonly pricePer1000: number;
  private readonly onSpend?: (samples: number) => void;

  /** `limit` samples may ever be sent; Infinity for no limit. */
  constructor(
    readonly limit: number,
    opts: QueryBudgetOptions = {},
  ) {
    if (!(limit >= 0)) throw new RangeError(`query budget must be ≥ 0, got ${limit}`);
    this.pricePer1000 = opts.pricePer1000 ?? 0;
    this.onSpend = opts.onSpend;
  }

  get spent(): number {
    return this.used;
  }

  /** Samples currently reserved by requests in flight. */
  get inFlight(): number {
    return this.reserved;
  }

  get remaining(): number {
    return this.limit - this.used - this.reserved;
  }

  /** Estimated cost of what was spent, at the user-set price. */
  get costEstimate(): number {
    return (this.used / 1000) * this.pricePer1000;
  }

  /** Claims `n` samples or throws without claiming any. */
  reserve(n: number): void {
    if (n > this.remaining) throw new TeacherBudgetExceededError(n, this.remaining, this.limit);
    this.reserved += n;
  }

  /** The reserved samples were sent and (may have been) processed. */
  commit(n: number): void {
    this.reserved -= n;
    this.used += n;
    if (n) this.onSpend?.(n);
  }

  /** The reserved samples were not sent, or the teacher refused them before running the model. */
  release(n: number): void {
    this.reserved -= n;
  }
}
