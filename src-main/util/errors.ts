/**
 * The base of every engine error: a stable, machine-readable `code` that front ends branch on,
 * since a message is for people and may be reworded. Errors cross the run worker, the bridge and
 * IPC as `{name, code, message}` (serialize-error.ts); the code is what survives intact.
 * No imports: the API contract, and through it the renderer, use this file too.
 */

export const ERROR_CODES = [
  /** Not a DistillError (a bug, or a library's own error): only the message says more. */
  'unknown',
  'contract',
  'ipc-sender',
  'invalid-recipe',
  'data-import',
  'store-version',
  'store-busy',
  'run-not-found',
  'budget-exhausted',
  'plan-over-budget',
  'disk-full',
  'aborted',
  'unsupported-student',
  'teacher-error',
  'teacher-auth',
  'teacher-request-rejected',
  'teacher-rate-limited',
  'teacher-server-error',
  'teacher-timeout',
  'teacher-unreachable',
  'teacher-malformed-reply',
  'teacher-unreadable-reply',
  'teacher-redirect',
  'teacher-config',
  'teacher-circuit-open',
  'teacher-bad-response',
  'binary-framing',
  'http-refused',
  'export-failed',
  'calibration-failed',
  'quantization-failed',
  'parity-failed',
  'unknown-precision',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const CODES: ReadonlySet<string> = new Set(ERROR_CODES);

export function isErrorCode(x: unknown): x is ErrorCode {
  return typeof x === 'string' && CODES.has(x);
}

/** Each subclass names its own `code`; `name` defaults to the class name. */
export abstract class DistillError extends Error {
  abstract readonly code: ErrorCode;
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An error as it travels between processes and to the UI. */
export interface ApiError {
  name: string;
  code: ErrorCode;
  message: string;
}

export function isApiError(x: unknown): x is ApiError {
  const e = x as Partial<ApiError> | null;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof e.name === 'string' &&
    typeof e.message === 'string' &&
    isErrorCode(e.code)
  );
}

/** The code of any thrown value: its own when it carries a known one, else 'unknown'. */
export function errorCode(e: unknown): ErrorCode {
  const code = (e as { code?: unknown } | null)?.code;
  return isErrorCode(code) ? code : 'unknown';
}
