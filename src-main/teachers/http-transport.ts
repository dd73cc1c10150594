/**
 * One HTTP exchange with a teacher, using Node's built-in fetch. Maps every failure to one typed
 * error (errors.ts); retries are the client's business, so this never retries.
 */
import {
  TeacherAuthError,
  TeacherConnectionError,
  TeacherMalformedReplyError,
  TeacherRateLimitedError,
  TeacherRequestRejectedError,
  TeacherServerError,
  TeacherTimeoutError,
} from './errors.ts';
import { parseRetryAfter } from './retry-after.ts';

export interface HttpRequest {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: Uint8Array | string;
  /** Whole exchange, headers and body, must finish in this time (default 30 s). */
  timeoutMs?: number;
}

export interface HttpReply {
  status: number;
  headers: Headers;
  body: Buffer;
}

/** Connection errors raised before any byte was sent: the teacher cannot have seen the request. */
const NEVER_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

export async function httpExchange(req: HttpRequest): Promise<HttpReply> {
  const timeoutMs = req.timeoutMs ?? 30_000;
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), timeoutMs);
  try {
    let res: Response;
    try {
      res = await fetch(req.url, { method: req.method ?? 'POST', headers: req.headers, body: req.body as BodyInit | undefined, signal: ctrl.signal });
    } catch (err) {
      throw transportError(err, ctrl.signal.aborted, timeoutMs);
    }
    let body: Buffer;
    try {
      body = Buffer.from(await res.arrayBuffer());
    } catch (err) {
      if (ctrl.signal.aborted) throw new TeacherTimeoutError(timeoutMs);
      // The status line arrived, then the body broke off: the model ran.
      throw new TeacherMalformedReplyError(`teacher reply was cut off (HTTP ${res.status}): ${causeCode(err) ?? (err as Error).message}`);
    }
    if (res.status >= 200 && res.status < 300) return { status: res.status, headers: res.headers, body };
    throw statusError(res.status, res.headers, body);
  } finally {
    clearTimeout(timer);
  }
}

function statusError(status: number, headers: Headers, body: Buffer): Error {
  const detail = errorDetail(body);
  if (status === 401 || status === 403) return new TeacherAuthError(status, detail);
  if (status === 429) return new TeacherRateLimitedError(parseRetryAfter(headers.get('retry-after')));
  if (status >= 500) return new TeacherServerError(status, detail);
  return new TeacherRequestRejectedError(status, detail);
}

/** KServe and TF Serving put the reason in `{"error": "…"}`; otherwise a short excerpt of the body. */
function errorDetail(body: Buffer): string {
  const text = body.toString('utf8', 0, Math.min(body.length, 2000)).trim();
  try {
    const j = JSON.parse(text) as { error?: unknown; message?: unknown };
    if (typeof j.error === 'string') return j.error;
    if (typeof j.message === 'string') return j.message;
  } catch {
    // not JSON: fall through to the raw excerpt
  }
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function causeCode(err: unknown): string | undefined {
  let e = err as { code?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; e && depth < 4; depth++) {
    if (typeof e.code === 'string') return e.code;
    e = e.cause as typeof e;
  }
  return undefined;
}

function transportError(err: unknown, aborted: boolean, timeoutMs: number): Error {
  if (aborted) return new TeacherTimeoutError(timeoutMs);
  const code = causeCode(err) ?? 'network error';
  return new TeacherConnectionError(code, !NEVER_SENT.has(code), err);
}
