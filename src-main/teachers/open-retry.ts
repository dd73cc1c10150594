/**
 * Retries for the requests a teacher makes while it opens (model metadata, the one probe sample),
 * which run before any TeacherClient exists. The first request of a run often goes out on a pooled
 * connection that sat idle while the previous run trained: an idle timeout on the far side (a load
 * balancer, or our own loopback server whose timer fired late because training starved the event
 * loop) then resets it. Such failures are transient, and one of them must not fail the run.
 * Same policy as the client's queries: retryable TeacherErrors only, exponential backoff with
 * jitter, Retry-After honoured on 429 up to a cap.
 */
import { RETRY_DEFAULTS, backoffDelay, sleep } from './backoff.ts';
import { TeacherError, TeacherRateLimitedError } from './errors.ts';

export interface OpenRetryOptions {
  /** Further attempts after a transient failure (default 4, as the client's). */
  retries?: number;
  /** First backoff delay, doubling per attempt (default 200 ms). */
  backoffMs?: number;
  /** Longest delay, Retry-After included (default 10 s). */
  maxBackoffMs?: number;
  random?: () => number;
}

/**
 * Runs `attempt` until it succeeds, fails for good, or runs out of retries (then the last error is
 * thrown). `onFailedAttempt` is told of each failure before it is retried or thrown, e.g. to count
 * a probe that may have reached the model.
 */
export async function retryWhileOpening<T>(
  attempt: () => Promise<T>,
  opts: OpenRetryOptions = {},
  onFailedAttempt?: (err: unknown) => void,
): Promise<T> {
  const retries = opts.retries ?? RETRY_DEFAULTS.retries;
  const base = opts.backoffMs ?? RETRY_DEFAULTS.backoffMs;
  const max = opts.maxBackoffMs ?? RETRY_DEFAULTS.maxBackoffMs;
  for (let n = 0; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      onFailedAttempt?.(err);
      if (!(err instanceof TeacherError) || !err.retryable || n >= retries) throw err;
      const hinted = err instanceof TeacherRateLimitedError ? err.retryAfterMs : undefined;
      if (hinted !== undefined && hinted > max) throw err;
      await sleep(hinted ?? backoffDelay(n, base, max, opts.random));
    }
  }
}
