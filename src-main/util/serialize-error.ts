/**
 * Errors across process and API boundaries: the run worker's messages, the bridge's JSON replies
 * and the Electron IPC replies all carry `{name, code, message}`, and the receiving side rebuilds
 * an error with the same three. The one place that shape is made and read.
 */
import { DistillError, errorCode, isApiError, type ApiError, type ErrorCode } from './errors.ts';

/** Any thrown value as `{name, code, message}`; a non-DistillError gets code 'unknown'. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof Error) return { name: err.name, code: errorCode(err), message: err.message };
  return { name: 'Error', code: 'unknown', message: String(err) };
}

/** An error received from another process: `instanceof` its class is lost, name and code are not. */
export class RemoteError extends DistillError {
  readonly code: ErrorCode;
  constructor(e: ApiError) {
    super(e.message);
    this.name = e.name;
    this.code = e.code;
  }
}

/** Rebuilds an error from `{name, code, message}`; anything malformed becomes an 'unknown' one. */
export function fromApiError(e: unknown): RemoteError {
  if (isApiError(e)) return new RemoteError(e);
  const message =
    typeof (e as { message?: unknown } | null)?.message === 'string' ? (e as { message: string }).message : String(e);
  return new RemoteError({ name: 'Error', code: 'unknown', message });
}

/** The bridge's and IPC's reply to a failed call: `error` stays the message, as it always was. */
export type ApiFailure = { ok: false; error: string; name: string; code: ErrorCode };
export type ApiReply<T> = { ok: true; result: T } | ApiFailure;

export function apiFailure(err: unknown): ApiFailure {
  const e = toApiError(err);
  return { ok: false, error: e.message, name: e.name, code: e.code };
}

/**
 * Wraps an IPC handler so it answers `ApiReply` instead of throwing: Electron passes only the
 * message of a thrown error to the renderer, so its name and code would be lost.
 */
export function replyOrFailure<A extends unknown[], T>(
  fn: (...args: A) => Promise<T>,
): (...args: A) => Promise<ApiReply<T>> {
  return async (...args) => {
    try {
      return { ok: true, result: await fn(...args) };
    } catch (err) {
      return apiFailure(err);
    }
  };
}
