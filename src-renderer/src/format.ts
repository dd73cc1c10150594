/** Small display helpers shared by the steps. */
// From errors.ts, not contract.ts: a value import of the contract would bundle zod.
import { errorCode, type ErrorCode } from '../../src-main/api/errors.ts';

export const pct = (x: number | null | undefined): string =>
  x === null || x === undefined || Number.isNaN(x) ? '—' : `${(x * 100).toFixed(1)}%`;
export const num = (x: number): string => x.toLocaleString('en-US');
export const bytes = (b: number): string => (b > 1e6 ? `${(b / 1e6).toFixed(2)} MB` : `${(b / 1e3).toFixed(1)} kB`);
export const secs = (s: number): string =>
  !Number.isFinite(s) ? '—' : s < 60 ? `${Math.round(s)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;

/** What to do about the failures a user can act on, by error code; the message says what happened. */
const ADVICE: Partial<Record<ErrorCode, string>> = {
  'budget-exhausted':
    'The query budget is used up, and every reply already paid for is kept: raise the budget and resume to go on.',
  'plan-over-budget': 'Nothing was sent: raise the query budget or use fewer images.',
  'teacher-unreachable': 'Check the address and port, that the teacher server is running, and the network in between.',
  'teacher-timeout': 'The teacher may be overloaded or far away: try again, or later.',
  'teacher-circuit-open': 'Resume the run once the teacher answers again.',
};

/** A failure for people: the engine's message, then what to do about it when its code says. */
export const errorText = (e: unknown, code: ErrorCode | null = errorCode(e)): string => {
  const message = e instanceof Error ? e.message : String(e);
  const advice = code ? ADVICE[code] : undefined;
  return advice ? `${message.replace(/[\s.]+$/, '')}. ${advice}` : message;
};

/** Teacher failures that mean it could not be reached at all, rather than that it refused or erred. */
export const isUnreachable = (e: unknown): boolean =>
  ['teacher-unreachable', 'teacher-timeout', 'teacher-circuit-open'].includes(errorCode(e));
