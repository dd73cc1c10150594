/**
 * `distill teacher serve`: the built-in cloud teacher. Serves one ONNX classifier over kserve-v2
 * and tf-serving on 127.0.0.1, with a bearer token, a rate limit (429 + Retry-After), injected
 * failures and `/stats`, so the demo, tests and benchmarks talk to a real API.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { loadServedModel, type ServedModel } from './served-model.ts';
import { StatsRecorder, type TeacherServerStats } from './server-stats.ts';
import { RateLimiter } from './rate-limiter.ts';
import { seededRandom } from './seeded-random.ts';
import { HttpError } from './http-error.ts';
import { shapeReply, SERVE_RESPONSES, type ServeResponse } from './served-reply.ts';
import { kserveMetadata, parseKServeInfer, formatKServeReply, HEADER_LENGTH } from './kserve-v2-routes.ts';
import { tfServingMetadata, parseTfServingPredict, formatTfServingReply } from './tf-serving-routes.ts';

export type ServeProtocol = 'kserve-v2' | 'tf-serving';

/** A misbehaviour to inject into one infer request (tests); all fields optional. */
export interface TeacherServerFault {
  /** Answer this status without running the model (≥ 500 counts the samples as received). */
  status?: number;
  retryAfter?: string;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Drop the connection without a reply. */
  reset?: boolean;
  /** Send half the reply, then drop the connection. */
  truncate?: boolean;
  /** Reply 200 with a body that is not JSON. */
  garbage?: boolean;
  /** Put a NaN into the scores. */
  nan?: boolean;
  /** Leave the last row out of the reply. */
  dropRow?: boolean;
}

export interface TeacherServerOptions {
  /** A teacher manifest (.json) or .onnx file, or a model already loaded. */
  model: string | ServedModel;
  /** Default 0: any free port. The server listens on 127.0.0.1 only. */
  port?: number;
  /** Default both. */
  protocols?: ServeProtocol[];
  /** What each reply reveals (default logits). */
  response?: ServeResponse;
  /** k for top-k replies (default 3). */
  topK?: number;
  /** Required as `Authorization: Bearer <token>` or `x-api-key: <token>` when set. */
  token?: string;
  /** Infer requests per second; more get 429 with Retry-After. */
  rateLimit?: number;
  /** Retry-After as delay-seconds (default) or an HTTP-date. */
  retryAfterForm?: 'seconds' | 'date';
  /** Fraction of infer requests answered 500 (seeded by `seed`). */
  failRate?: number;
  seed?: number;
  /** Scores as FP16 instead of FP32 (kserve-v2). */
  fp16?: boolean;
  /** Per infer request (numbered from 1), a fault to inject. */
  faults?: (request: number) => TeacherServerFault | undefined;
  /** Default 256 MiB. */
  maxBodyBytes?: number;
}

export interface TeacherServer {
  url: string;
  port: number;
  model: ServedModel;
  stats(withHashes?: boolean): TeacherServerStats;
  close(): Promise<void>;
}

export async function startTeacherServer(opts: TeacherServerOptions): Promise<TeacherServer> {
  const owned = typeof opts.model === 'string';
  const model = typeof opts.model === 'string' ? await loadServedModel(opts.model) : opts.model;
  const protocols = new Set(opts.protocols ?? ['kserve-v2', 'tf-serving']);
  const response = opts.response ?? 'logits';
  if (!(response in SERVE_RESPONSES))
    throw new Error(`unknown response kind "${response}"; use ${Object.keys(SERVE_RESPONSES).join(', ')}`);
  const topK = opts.topK ?? 3;
  const stats = new StatsRecorder();
  const limiter = opts.rateLimit ? new RateLimiter(opts.rateLimit) : undefined;
  const random = seededRandom(opts.seed ?? 1);
  const maxBody = opts.maxBodyBytes ?? 256 * 1024 * 1024;
  const outputShape = response === 'top-1' ? [-1] : response === 'top-k' ? [-1, topK] : [-1, model.numClasses];
  const outputDatatype = response === 'top-1' ? 'INT64' : response === 'top-k' ? 'BYTES' : opts.fp16 ? 'FP16' : 'FP32';
  let inferCount = 0;

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    stats.request();
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const p = url.pathname;
    if (p === '/stats' && req.method === 'GET') return send(res, 200, stats.snapshot(url.searchParams.has('hashes')));
    if (opts.token && !authorised(req, opts.token)) throw new HttpError(401, 'missing or invalid token');

    if (protocols.has('kserve-v2')) {
      if (p === '/v2/health/ready' || p === '/v2/health/live') return send(res, 200, {});
      if (p === '/v2')
        return send(res, 200, {
          name: 'distill-teacher-server',
          version: '1',
          extensions: ['binary_tensor_data', 'classification'],
        });
      const m = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?(\/infer|\/ready)?$/.exec(p);
      if (m) {
        checkModel(m[1], m[2]);
        if (!m[3] && req.method === 'GET') return send(res, 200, kserveMetadata(model, outputShape, outputDatatype));
        if (m[3] === '/ready') return send(res, 200, {});
        if (m[3] === '/infer' && req.method === 'POST') return infer(req, res, 'kserve-v2');
      }
    }
    if (protocols.has('tf-serving')) {
      const m = /^\/v1\/models\/([^/:]+)(?:\/versions\/([^/:]+))?(\/metadata|:predict)?$/.exec(p);
      if (m) {
        checkModel(m[1], m[2]);
        if (!m[3] && req.method === 'GET') {
          return send(res, 200, {
            model_version_status: [
              { version: model.version, state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } },
            ],
          });
        }
        if (m[3] === '/metadata') return send(res, 200, tfServingMetadata(model, outputShape));
        if (m[3] === ':predict' && req.method === 'POST') return infer(req, res, 'tf-serving');
      }
    }
    throw new HttpError(404, `no route for ${req.method} ${p}`);
  };

  const checkModel = (name: string, version: string | undefined) => {
    if (decodeURIComponent(name) !== model.name)
      throw new HttpError(404, `model "${decodeURIComponent(name)}" is not served here`);
    if (version !== undefined && version !== model.version)
      throw new HttpError(404, `model ${model.name} has no version ${version}`);
  };

  const infer = async (req: http.IncomingMessage, res: http.ServerResponse, protocol: ServeProtocol): Promise<void> => {
    const body = await readBody(req, maxBody);
    if (limiter) {
      const wait = limiter.take();
      if (wait > 0) {
        const seconds = Math.max(1, Math.ceil(wait / 1000));
        const retryAfter =
          opts.retryAfterForm === 'date' ? new Date(Date.now() + seconds * 1000).toUTCString() : String(seconds);
        return send(res, 429, { error: 'rate limit exceeded' }, { 'retry-after': retryAfter });
      }
    }
    const kreq = protocol === 'kserve-v2' ? parseKServeInfer(model, body, header(req, HEADER_LENGTH)) : undefined;
    const treq = protocol === 'tf-serving' ? parseTfServingPredict(model, body) : undefined;
    const { input, count } = (kreq ?? treq)!;
    const n = ++inferCount;
    const fault: TeacherServerFault =
      opts.faults?.(n) ?? (opts.failRate && random() < opts.failRate ? { status: 500 } : {});
    if (fault.status && fault.status < 500) {
      return send(
        res,
        fault.status,
        { error: `injected ${fault.status}` },
        fault.retryAfter ? { 'retry-after': fault.retryAfter } : {},
      );
    }
    const hashes = stats.received(input, count, model.sampleSize);
    if (fault.status)
      return send(
        res,
        fault.status,
        { error: 'injected failure' },
        fault.retryAfter ? { 'retry-after': fault.retryAfter } : {},
      );
    if (fault.reset) {
      req.socket.destroy();
      return;
    }
    let clientGone = false;
    const onGone = () => (clientGone = true);
    req.socket.on('close', onGone);
    req.socket.on('end', onGone);
    // Keep-alive sockets carry many requests: drop this request's listeners when it is done.
    res.once('close', () => {
      req.socket.off('close', onGone);
      req.socket.off('end', onGone);
    });
    if (fault.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
    // Let pending I/O land first: a client killed during the delay has its FIN queued behind the
    // timer. A reply computed for a connection that is gone is never delivered, so it is not served.
    await new Promise((r) => setImmediate(r));
    if (clientGone || res.destroyed || req.socket.destroyed) return;
    const raw = await model.run(input, count);
    const shaped = shapeReply(model, raw, count, response, topK);
    const reply = fault.dropRow
      ? shapeReply(model, raw.subarray(0, (count - 1) * model.numClasses), count - 1, response, topK)
      : shaped;
    let out: Buffer;
    const headers: Record<string, string> = {};
    if (kreq) {
      const f = formatKServeReply(model, kreq, reply, { fp16: opts.fp16, nan: fault.nan });
      out = f.body;
      if (f.headerLength !== undefined) headers[HEADER_LENGTH] = String(f.headerLength);
    } else {
      out = formatTfServingReply(treq!, reply, { nan: fault.nan });
    }
    if (fault.garbage) out = Buffer.from('{"outputs": [ this is not json');
    const type = headers[HEADER_LENGTH] ? 'application/octet-stream' : 'application/json';
    if (fault.truncate) {
      res.writeHead(200, { 'content-type': type, 'content-length': out.length, ...headers });
      res.write(out.subarray(0, out.length >> 1), () => res.destroy());
      return;
    }
    if (clientGone || req.socket.destroyed) return;
    stats.status(200);
    stats.served(hashes);
    res.writeHead(200, { 'content-type': type, 'content-length': out.length, ...headers });
    res.end(out);
  };

  const send = (res: http.ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}) => {
    stats.status(status);
    const body = Buffer.from(JSON.stringify(value));
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length, ...headers });
    res.end(body);
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent || res.destroyed) return;
      if (err instanceof HttpError) send(res, err.status, { error: err.message });
      else send(res, 500, { error: (err as Error).message });
    });
  });
  // Idle connections stay open 65 s, as cloud endpoints' load balancers keep them, not Node's 5 s.
  // Node's default let the server drop a pooled connection just as a client, back from seconds of
  // training with its timers starved, sent a batch on it: a reset that a budget must count as spent.
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  server.headersTimeout = KEEP_ALIVE_MS + 1000;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
    });
  } catch (err) {
    if (owned) await model.close();
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new Error(
        `port ${opts.port} on 127.0.0.1 is already in use (another \`distill teacher serve\` or \`distill experiment\` running?): stop it or choose another port`,
      );
    }
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    model,
    stats: (withHashes) => stats.snapshot(withHashes),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (owned) await model.close();
    },
  };
}

/** How long the server keeps an idle connection open. */
const KEEP_ALIVE_MS = 65_000;

function header(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function authorised(req: http.IncomingMessage, token: string): boolean {
  const bearer = /^Bearer (.+)$/i.exec(header(req, 'authorization') ?? '')?.[1];
  const given = bearer ?? header(req, 'x-api-key');
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new HttpError(413, `request body over ${limit} bytes`));
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
