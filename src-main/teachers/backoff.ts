/**
 * Exponential backoff with "equal jitter": half the exponential delay is fixed, half random, so
 * many clients failing together spread out (docs/protocols.md: "exponential backoff with jitter").
 */
/** The retry policy shared by queries (TeacherClient) and a teacher's open-time requests (open-retry.ts). */
export const RETRY_DEFAULTS = {
  /** Further attempts after a transient failure. */
  retries: 4,
  /** First backoff delay; doubles per attempt. */
  backoffMs: 200,
  /** Longest backoff delay. */
  maxBackoffMs: 10_000,
} as const;

export function backoffDelay(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const d = Math.min(maxMs, baseMs * 2 ** attempt);
  return d / 2 + random() * (d / 2);
}

/** A timer that a stop signal cuts short. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted || ms <= 0) return resolve();
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}
