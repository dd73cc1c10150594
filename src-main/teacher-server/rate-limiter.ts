/**
 * A token bucket over requests: `perSecond` tokens a second, bursts up to `burst`. A request
 * without a token is answered 429 with Retry-After (docs/protocols.md, "Rate limits").
 */
export class RateLimiter {
  private tokens: number;
  private last: number;

  constructor(
    readonly perSecond: number,
    readonly burst = Math.max(1, perSecond),
    private readonly now: () => number = Date.now,
  ) {
    if (!(perSecond > 0)) throw new RangeError(`rate limit must be > 0 requests/s, got ${perSecond}`);
    this.tokens = burst;
    this.last = now();
  }

  /** Takes a token and returns 0, or returns the milliseconds until one is available. */
  take(): number {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.perSecond);
    this.last = t;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return ((1 - this.tokens) / this.perSecond) * 1000;
  }
}
