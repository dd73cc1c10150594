/**
 * One HTTP exchange with a teacher, using Node's built-in fetch. Maps every failure to one typed
 * error (errors.ts); retries are the client's business, so this never retries.
 */
import {
  TeacherAuthError,
  TeacherConnectionError,
  TeacherMalformedReplyError,
  TeacherRateLimitedError,
  TeacherRedirectError,
  TeacherRequestRejectedError,
  TeacherServerError,
  TeacherTimeoutError,
  TeacherUnreadableReplyError,
} from './errors.ts';
import { parseRetryAfter } from './retry-after.ts';

export interface HttpRequest {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: Uint8Array | string;
  /** Whole exchange, headers and body, must finish in this time (default 30 s). */
  timeoutMs?: number;
  /** A reply body over this many bytes is refused, not read (default DEFAULT_MAX_REPLY_BYTES). */
  maxReplyBytes?: number;
}

/**
 * 64 MiB: a batch of 256 replies with 1,000 scores each is under 10 MB as JSON. The cap keeps a
 * misbehaving teacher from taking the process's memory (a 600 MB reply took a run to 2.26 GB).
 */
export const DEFAULT_MAX_REPLY_BYTES = 64 * 1024 * 1024;

/**
 * What an inference reply may be labelled as: JSON (also `+json`), raw bytes (KServe's binary
 * tensors), plain text (some TorchServe handlers), or no label at all. Anything else, an HTML login
 * page above all, is not a reply that retrying could fix.
 */
function readableContentType(contentType: string | null): boolean {
  if (!contentType) return true;
  const t = contentType.split(';')[0].trim().toLowerCase();
  return t === 'application/json' || t.endsWith('+json') || t === 'application/octet-stream' || t === 'text/plain';
}

export interface HttpReply {
  status: number;
  headers: Headers;
  body: Buffer;
}

/** Connection errors raised before any byte was sent: the teacher cannot have seen the request. */
const NEVER_SENT = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

export async function httpExchange(req: HttpRequest): Promise<HttpReply> {
  const timeoutMs = req.timeoutMs ?? 30_000;
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), timeoutMs);
  try {
    let res: Response;
    try {
      // Redirects are not followed: fetch would carry x-api-key and custom headers along to any host.
      res = await fetch(req.url, {
        method: req.method ?? 'POST',
        headers: req.headers,
        body: req.body as BodyInit | undefined,
        signal: ctrl.signal,
        redirect: 'manual',
      });
    } catch (err) {
      throw transportError(err, ctrl.signal.aborted, timeoutMs);
    }
    if (res.status >= 300 && res.status < 400) {
      await discardBody(res);
      throw new TeacherRedirectError(res.status, res.headers.get('location'));
    }
    const ok = res.status >= 200 && res.status < 300;
    if (ok && !readableContentType(res.headers.get('content-type'))) {
      await discardBody(res);
      throw new TeacherUnreadableReplyError(
        `teacher answered HTTP ${res.status} with ${res.headers.get('content-type')}, not an inference reply ` +
          '(a login page, a proxy or a wrong URL?); it is not asked again',
      );
    }
    let body: Buffer;
    try {
      body = await readCapped(res, req.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES);
    } catch (err) {
      if (err instanceof TeacherUnreadableReplyError) throw err;
      if (ctrl.signal.aborted) throw new TeacherTimeoutError(timeoutMs);
      // The status line arrived, then the body broke off: the model ran.
      throw new TeacherMalformedReplyError(
        `teacher reply was cut off (HTTP ${res.status}): ${causeCode(err) ?? (err as Error).message}`,
      );
    }
    if (ok) return { status: res.status, headers: res.headers, body };
    throw statusError(res.status, res.headers, body);
  } finally {
    clearTimeout(timer);
  }
}

/** Lets go of a body that will not be read, so the connection is freed rather than left draining. */
async function discardBody(res: Response): Promise<void> {
  await res.body?.cancel().catch(() => undefined);
}

/** The body, read chunk by chunk and refused as soon as it passes `max` bytes. */
async function readCapped(res: Response, max: number): Promise<Buffer> {
  const tooLarge = (what: string) =>
    new TeacherUnreadableReplyError(
      `teacher reply is ${what}, over the ${Math.round(max / 2 ** 20)} MiB limit for one reply; it was not read and is not asked again`,
    );
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > max) {
    await discardBody(res);
    throw tooLarge(`${declared} bytes`);
  }
  if (!res.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(`more than ${max} bytes`);
    }
    chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  }
  return Buffer.concat(chunks, size);
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
