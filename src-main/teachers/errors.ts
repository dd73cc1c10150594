/**
 * One error class per way a teacher request can fail (docs/protocols.md, "Auth, limits, failures").
 * Every message is redacted of registered secrets on construction.
 *
 * `maybeProcessed` says whether the teacher may have run (and billed) the samples: the client
 * commits those to the query budget and releases the rest.
 */
import { DistillError, type ErrorCode } from '../util/errors.ts';
import { redactSecrets } from './secrets.ts';

export class TeacherError extends DistillError {
  override name = 'TeacherError';
  readonly code: ErrorCode = 'teacher-error';
  /** Worth trying again after a pause. */
  readonly retryable: boolean = false;
  /** The request may have reached the model, so it counts against the budget. */
  readonly maybeProcessed: boolean = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(redactSecrets(message), options);
  }
}

/** 401/403: the token is missing, wrong or expired. Never retried. */
export class TeacherAuthError extends TeacherError {
  override name = 'TeacherAuthError';
  override readonly code = 'teacher-auth';
  constructor(
    readonly status: number,
    detail: string,
  ) {
    super(
      status === 401
        ? `teacher refused the credentials (HTTP 401): check or renew the token${detail ? ` — ${detail}` : ''}`
        : `teacher denied access (HTTP 403)${detail ? `: ${detail}` : ''}`,
    );
  }
}

/** 400/404/405/413/422…: the request itself is wrong (model name, shape, body); retrying cannot help. */
export class TeacherRequestRejectedError extends TeacherError {
  override name = 'TeacherRequestRejectedError';
  override readonly code = 'teacher-request-rejected';
  constructor(
    readonly status: number,
    detail: string,
  ) {
    super(
      `teacher rejected the request (HTTP ${status})${status === 404 ? ' — wrong URL, model name or version?' : ''}${detail ? `: ${detail}` : ''}`,
    );
  }
}

/** 429: the teacher asks us to slow down; `retryAfterMs` from Retry-After when it was given. */
export class TeacherRateLimitedError extends TeacherError {
  override name = 'TeacherRateLimitedError';
  override readonly code = 'teacher-rate-limited';
  override readonly retryable = true;
  constructor(readonly retryAfterMs: number | undefined) {
    super(
      `teacher rate limit hit (HTTP 429)${retryAfterMs !== undefined ? `; retry after ${Math.ceil(retryAfterMs)} ms` : ''}`,
    );
  }
}

/** 5xx: the teacher failed; it may have run the model before failing. */
export class TeacherServerError extends TeacherError {
  override name = 'TeacherServerError';
  override readonly code = 'teacher-server-error';
  override readonly retryable = true;
  override readonly maybeProcessed = true;
  constructor(
    readonly status: number,
    detail: string,
  ) {
    super(`teacher failed (HTTP ${status})${detail ? `: ${detail}` : ''}`);
  }
}

/** No complete reply within the per-request timeout. */
export class TeacherTimeoutError extends TeacherError {
  override name = 'TeacherTimeoutError';
  override readonly code = 'teacher-timeout';
  override readonly retryable = true;
  override readonly maybeProcessed = true;
  constructor(readonly timeoutMs: number) {
    super(`teacher did not answer within ${timeoutMs} ms`);
  }
}

/**
 * The connection failed. `reachedServer` is false when it was never established (refused,
 * unknown host), so nothing can have been processed.
 */
export class TeacherConnectionError extends TeacherError {
  override name = 'TeacherConnectionError';
  override readonly code = 'teacher-unreachable';
  override readonly retryable = true;
  override readonly maybeProcessed: boolean;
  /** The socket's error code (ECONNREFUSED, ENOTFOUND…); `code` is the engine's. */
  constructor(
    readonly errno: string,
    reachedServer: boolean,
    cause?: unknown,
  ) {
    super(`connection to the teacher failed (${errno})`, { cause });
    this.maybeProcessed = reachedServer;
  }
}

/** A 2xx reply whose body cannot be read (truncated, not JSON, wrong framing): retried. */
export class TeacherMalformedReplyError extends TeacherError {
  override name = 'TeacherMalformedReplyError';
  override readonly code = 'teacher-malformed-reply';
  override readonly retryable = true;
  override readonly maybeProcessed = true;
}

/**
 * A complete 2xx reply that no retry can make readable: a body that is not an inference reply (an
 * HTML login or proxy page) or one over the size limit. It may have been billed, so it counts as
 * spent, once; it is never sent again.
 */
export class TeacherUnreadableReplyError extends TeacherError {
  override name = 'TeacherUnreadableReplyError';
  override readonly code = 'teacher-unreadable-reply';
  override readonly maybeProcessed = true;
}

/**
 * A 3xx: the server sent the client elsewhere. Never followed, since the request's credentials
 * would go with it to a place nobody configured; the location is in the message.
 */
export class TeacherRedirectError extends TeacherError {
  override name = 'TeacherRedirectError';
  override readonly code = 'teacher-redirect';
  constructor(
    readonly status: number,
    readonly location: string | null,
  ) {
    super(
      `teacher answered HTTP ${status}, redirecting to ${location ?? '(no Location header)'}: not followed, since the ` +
        "request's credentials would go with it; if that address is the teacher, put it in the teacher's URL",
    );
  }
}

/** The settings cannot work (missing environment variable, bad URL). */
export class TeacherConfigError extends TeacherError {
  override name = 'TeacherConfigError';
  override readonly code = 'teacher-config';
}

/** Too many requests in a row failed: the run pauses; everything answered so far is cached. */
export class TeacherCircuitOpenError extends TeacherError {
  override name = 'TeacherCircuitOpenError';
  override readonly code = 'teacher-circuit-open';
  constructor(
    readonly failures: number,
    cause: unknown,
  ) {
    super(
      `teacher circuit open after ${failures} consecutive failed requests (last: ${(cause as Error)?.message ?? String(cause)}); ` +
        'the run is paused and can be resumed without re-sending answered samples',
      { cause },
    );
  }
}
