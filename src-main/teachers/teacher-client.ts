/**
 * The only road to a teacher. Every label call: looks each sample up in the reply cache, sends
 * only the misses (each distinct input once), in batches of at most `maxBatch`, at most
 * `concurrency` requests at a time, each attempt paid for from the hard query budget first;
 * retries transient failures with backoff, honours Retry-After, opens a circuit after repeated
 * failures, validates every reply and caches it before anything uses it.
 */
import type { Teacher } from './teacher.ts';
import { validateResponses } from './validate-responses.ts';
import { TeacherBudgetExceededError, QueryBudget } from './query-budget.ts';
import { toTeacherInput, specImageDims } from './preprocess.ts';
import { sampleKeys, splitReplies, joinReplies, type CachedReply, type ReplyCache } from './reply-cache.ts';
import { TeacherCircuitOpenError, TeacherConfigError, TeacherError, TeacherRateLimitedError } from './errors.ts';
import { RETRY_DEFAULTS, backoffDelay, sleep } from './backoff.ts';
import type { TeacherResponses } from './responses.ts';

export interface LabelProgress {
  done: number;
  total: number;
  spent: number;
  limit: number;
  /** Of `done`, how many came from the reply cache (no query spent). */
  cached?: number;
}

export interface RetryNotice {
  attempt: number;
  delayMs: number;
  error: Error;
}

export interface TeacherClientOptions {
  /** Samples per request (default 256). */
  maxBatch?: number;
  /** Requests in flight at once (default 1). */
  concurrency?: number;
  /** Further attempts after a transient failure: 5xx, timeout, reset, truncated body (default 4). */
  retries?: number;
  /** Further attempts after HTTP 429, which are flow control rather than failure (default 20). */
  rateLimitRetries?: number;
  /** First backoff delay; doubles per attempt (default 200 ms). */
  backoffMs?: number;
  /** Longest backoff delay (default 10 s). */
  maxBackoffMs?: number;
  /** A Retry-After longer than this stops the call instead of stalling it (default 120 s). */
  maxRetryAfterMs?: number;
  /** Consecutive failed requests, across the client, that open the circuit (default 8). */
  circuitThreshold?: number;
  /** Where validated replies are kept; without one every call asks the teacher. */
  cache?: ReplyCache;
  /** Randomness for jitter (default Math.random); tests pass a seeded one. */
  random?: () => number;
  /** Told about each retry, e.g. to log it (messages are already redacted). */
  onRetry?: (n: RetryNotice) => void;
}

interface Batch {
  keys: string[];
  input: Float32Array;
}

export class TeacherClient {
  private readonly maxBatch: number;
  private readonly concurrency: number;
  private readonly opts: Required<Omit<TeacherClientOptions, 'cache' | 'onRetry'>>;
  private readonly cache?: ReplyCache;
  private readonly onRetry?: (n: RetryNotice) => void;
  private consecutiveFailures = 0;
  private circuitCause: unknown;
  /** Shared pause after a 429, so all workers wait rather than each hitting the limit. */
  private pausedUntil = 0;
  /** Samples sent and answered through this client (cache hits excluded). */
  sent = 0;
  /** HTTP requests (attempts) made, failed ones included. */
  requests = 0;
  failedRequests = 0;
  /** Samples answered from the reply cache. */
  cacheHits = 0;

  constructor(
    readonly teacher: Teacher,
    readonly budget: QueryBudget,
    opts: TeacherClientOptions = {},
  ) {
    this.maxBatch = opts.maxBatch ?? 256;
    this.concurrency = opts.concurrency ?? 1;
    if (!(this.maxBatch >= 1) || !(this.concurrency >= 1)) throw new RangeError('maxBatch and concurrency must be ≥ 1');
    this.opts = {
      maxBatch: this.maxBatch,
      concurrency: this.concurrency,
      retries: opts.retries ?? RETRY_DEFAULTS.retries,
      rateLimitRetries: opts.rateLimitRetries ?? 20,
      backoffMs: opts.backoffMs ?? RETRY_DEFAULTS.backoffMs,
      maxBackoffMs: opts.maxBackoffMs ?? RETRY_DEFAULTS.maxBackoffMs,
      maxRetryAfterMs: opts.maxRetryAfterMs ?? 120_000,
      circuitThreshold: opts.circuitThreshold ?? 8,
      random: opts.random ?? Math.random,
    };
    this.cache = opts.cache;
    this.onRetry = opts.onRetry;
  }

  get circuitOpen(): boolean {
    return this.consecutiveFailures >= this.opts.circuitThreshold;
  }

  /** Closes the circuit again, for a resume after the teacher recovered. */
  resetCircuit(): void {
    this.consecutiveFailures = 0;
  }

  /**
   * Labels `count` NHWC images. Misses are checked against the budget up front, so a call that
   * cannot be paid for in full sends nothing. On failure, every reply already received is in
   * the cache, so calling again re-sends none of them.
   */
  async label(
    images: Float32Array,
    count: number,
    sampleSize: number,
    onProgress?: (p: LabelProgress) => void,
  ): Promise<TeacherResponses> {
    if (this.circuitOpen) throw new TeacherCircuitOpenError(this.consecutiveFailures, this.circuitCause);
    const info = this.teacher.info;
    const dims = specImageDims(info.input);
    const per = dims.height * dims.width * dims.channels;
    if (!(per > 0) || per !== sampleSize) {
      throw new TeacherConfigError(
        `images of ${sampleSize} values do not fit the teacher input ${JSON.stringify(info.input.shape)} (${info.input.layout})`,
      );
    }
    // The bytes the adapter will send are exactly these, so they key the cache.
    const input = toTeacherInput(images, count, dims, info.input);
    const keys = sampleKeys(input, count, per);
    const known = new Map<string, CachedReply>();
    if (this.cache) {
      const hits = this.cache.getMany(info.id, keys);
      hits.forEach((r, i) => {
        if (r && r.kind === info.responseKind && r.numClasses === info.numClasses) known.set(keys[i], r);
      });
    }
    const missIndex = new Map<string, number>();
    keys.forEach((k, i) => {
      if (!known.has(k) && !missIndex.has(k)) missIndex.set(k, i);
    });
    const misses = [...missIndex.keys()];
    if (misses.length > this.budget.remaining)
      throw new TeacherBudgetExceededError(misses.length, this.budget.remaining, this.budget.limit);
    const fromCache = keys.filter((k) => known.has(k)).length;
    this.cacheHits += fromCache;

    const missRows = [...missIndex.values()];
    const batches: Batch[] = [];
    for (let b = 0; b < misses.length; b += this.maxBatch) {
      const rows = missRows.slice(b, b + this.maxBatch);
      const batchInput = new Float32Array(rows.length * per);
      rows.forEach((row, j) => batchInput.set(input.subarray(row * per, (row + 1) * per), j * per));
      batches.push({ keys: misses.slice(b, b + this.maxBatch), input: batchInput });
    }

    // Answered rows per key, for progress over `count` (duplicates of a key count with it).
    const multiplicity = new Map<string, number>();
    for (const k of keys) if (!known.has(k)) multiplicity.set(k, (multiplicity.get(k) ?? 0) + 1);
    let done = fromCache;
    let fatal: unknown;
    const stop = new AbortController();
    const fail = (err: unknown) => {
      fatal ??= err;
      stop.abort();
    };
    let next = 0;
    if (batches.length) await letIdleConnectionsClose();
    const worker = async () => {
      while (!stop.signal.aborted && next < batches.length) {
        const batch = batches[next++];
        try {
          const replies = await this.send(batch, stop.signal);
          if (!replies) return;
          batch.keys.forEach((k, j) => {
            known.set(k, replies[j]);
            done += multiplicity.get(k) ?? 1;
          });
          onProgress?.({ done, total: count, spent: this.budget.spent, limit: this.budget.limit, cached: fromCache });
        } catch (err) {
          fail(err);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, batches.length) }, worker));
    if (fatal) throw fatal;
    if (!batches.length && count)
      onProgress?.({ done, total: count, spent: this.budget.spent, limit: this.budget.limit, cached: fromCache });
    return joinReplies(keys.map((k) => known.get(k)!));
  }

  /** One batch with its retries. Returns undefined if the call was stopped before it was sent. */
  private async send(batch: Batch, stopSignal: AbortSignal): Promise<CachedReply[] | undefined> {
    const n = batch.keys.length;
    const info = this.teacher.info;
    let transientAttempts = 0;
    let rateLimitAttempts = 0;
    for (;;) {
      const wait = this.pausedUntil - Date.now();
      if (wait > 0) await sleep(wait, stopSignal);
      if (stopSignal.aborted) return undefined;
      this.budget.reserve(n);
      this.requests++;
      let reply: TeacherResponses;
      try {
        reply = await this.teacher.queryPrepared(batch.input, n);
        validateResponses(reply, n, info.numClasses);
        if (reply.kind !== info.responseKind)
          throw new TeacherConfigError(`teacher replied ${reply.kind}, declared ${info.responseKind}`);
      } catch (err) {
        const processed = err instanceof TeacherError ? err.maybeProcessed : true;
        if (processed) this.budget.commit(n);
        else this.budget.release(n);
        this.failedRequests++;
        const rateLimited = err instanceof TeacherRateLimitedError;
        if (!rateLimited) {
          this.consecutiveFailures++;
          this.circuitCause = err;
          if (this.circuitOpen) throw new TeacherCircuitOpenError(this.consecutiveFailures, err);
        }
        const retryable = err instanceof TeacherError && err.retryable;
        if (!retryable) throw err;
        let delay: number;
        if (rateLimited) {
          if (++rateLimitAttempts > this.opts.rateLimitRetries) throw err;
          delay =
            err.retryAfterMs ??
            backoffDelay(rateLimitAttempts - 1, this.opts.backoffMs, this.opts.maxBackoffMs, this.opts.random);
          if (delay > this.opts.maxRetryAfterMs) throw err;
          this.pausedUntil = Math.max(this.pausedUntil, Date.now() + delay);
        } else {
          if (++transientAttempts > this.opts.retries) throw err;
          delay = backoffDelay(transientAttempts - 1, this.opts.backoffMs, this.opts.maxBackoffMs, this.opts.random);
        }
        this.onRetry?.({ attempt: transientAttempts + rateLimitAttempts, delayMs: delay, error: err as Error });
        await sleep(delay, stopSignal);
        continue;
      }
      const replies = splitReplies(reply);
      // Committed to the cache before the budget and before any caller sees it: a crash after
      // this point loses nothing that was paid for.
      this.cache?.putMany(
        info.id,
        batch.keys.map((key, j) => ({ key, reply: replies[j] })),
      );
      this.budget.commit(n);
      this.sent += n;
      this.consecutiveFailures = 0;
      return replies;
    }
  }
}

/**
 * Lets the event loop run its overdue timers and socket events before a call's first request. A
 * training phase on this thread blocks the loop for seconds to minutes; meanwhile the pooled
 * connection's idle timeout (fetch's own, and the server's) passes without firing. Sent at once, the
 * batch went out on that connection just before the overdue timer closed it: a reset, a retry, and a
 * query the budget must count although the model never ran it (test/teachers/idle-connection.test.ts).
 * One turn through the timers and then the poll phase closes such connections first.
 */
async function letIdleConnectionsClose(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 0));
  await new Promise((resolve) => setImmediate(resolve));
}
