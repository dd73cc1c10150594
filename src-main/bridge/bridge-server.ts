/**
 * `distill serve`: the wizard and the API contract over HTTP and WebSocket on 127.0.0.1.
 *   GET  /?token=…                 the built renderer (static files under src-renderer/dist)
 *   POST /api/<channel>            JSON request → JSON `{ok, result}` or `{ok:false, error, name, code}` (400 if it breaks the contract)
 *   GET  /ws?token=…               run progress pushes (RunPush), throttled in the worker
 *   GET  /download/<runId>.tar.gz  the exported bundle
 * Every API, WebSocket and download request must carry the token and pass the loopback
 * Host/Origin check (request-guard.ts).
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { ContractError } from '../api/contract.ts';
import { createApiService, type ApiService } from '../service/api-service.ts';
import { MemoryVault } from '../service/secret-vault.ts';
import { checkOrigin, checkRequest } from './request-guard.ts';
import { tarGzFolder } from './tar-gz.ts';
import type { RunManager } from '../worker/run-manager.ts';
import { apiFailure } from '../util/serialize-error.ts';

// Sources live at src-main/bridge/*.ts; the packaged app runs the compiled dist/src-main/bridge/*.js.
export const RENDERER_DIST = fileURLToPath(
  new URL(
    import.meta.url.endsWith('.ts') ? '../../src-renderer/dist/' : '../../../src-renderer/dist/',
    import.meta.url,
  ),
);

/** The page's policy: everything from this origin only; no inline script. */
export const PAGE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

export interface BridgeOptions {
  home: string;
  /** Default 0: any free port. */
  port?: number;
  /** Default: 32 random bytes as hex. */
  token?: string;
  /** Folder with the built renderer (default src-renderer/dist). */
  staticDir?: string;
  runs?: RunManager;
}

export interface Bridge {
  url: string;
  port: number;
  token: string;
  service: ApiService;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};

const MAX_BODY = 1 << 20;

export async function startBridge(opts: BridgeOptions): Promise<Bridge> {
  const token = opts.token ?? randomBytes(32).toString('hex');
  const staticDir = path.resolve(opts.staticDir ?? RENDERER_DIST);
  const service = createApiService({ home: opts.home, vault: new MemoryVault(), runs: opts.runs });
  let port = 0;

  const send = (res: http.ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    res.end(text);
  };

  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const isApi =
        url.pathname.startsWith('/api/') ||
        url.pathname.startsWith('/download/') ||
        url.pathname === '/' ||
        url.pathname === '/index.html';
      const verdict = isApi ? checkRequest(req.headers, url, port, token) : checkOrigin(req.headers, port);
      if (!verdict.ok) return send(res, verdict.status, { ok: false, error: verdict.reason });

      if (url.pathname.startsWith('/api/')) {
        if (req.method !== 'POST') return send(res, 405, { ok: false, error: 'use POST' });
        if (!(req.headers['content-type'] ?? '').startsWith('application/json'))
          return send(res, 415, { ok: false, error: 'send application/json' });
        // Bytes, counted as bytes and decoded once: a UTF-8 character split across two reads
        // stays whole, and the limit is on what arrives, not on UTF-16 code units.
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const chunk of req as AsyncIterable<Buffer>) {
          size += chunk.length;
          if (size > MAX_BODY) return send(res, 413, { ok: false, error: 'request too large' });
          chunks.push(chunk);
        }
        const body = Buffer.concat(chunks, size).toString('utf8');
        let payload: unknown;
        try {
          payload = body ? JSON.parse(body) : {};
        } catch {
          return send(res, 400, { ok: false, error: 'body is not JSON' });
        }
        try {
          const result = await service.dispatch(decodeURIComponent(url.pathname.slice(5)), payload);
          return send(res, 200, { ok: true, result });
        } catch (err) {
          // A broken contract is the caller's bug (400). An engine failure (unreachable teacher, bad
          // folder) is an answer the wizard shows, so it comes back 200 with ok:false and the
          // browser does not log it as a failed request.
          return send(res, err instanceof ContractError ? 400 : 200, apiFailure(err));
        }
      }

      const dl = /^\/download\/([0-9A-Za-z-]{4,64})\.tar\.gz$/.exec(url.pathname);
      if (dl) {
        const dir = service.bundleDir(dl[1]);
        if (!existsSync(dir)) return send(res, 404, { ok: false, error: 'no bundle for this run; export it first' });
        const bytes = tarGzFolder(dir, `distill-bundle-${dl[1]}`);
        res.writeHead(200, {
          'content-type': 'application/gzip',
          'content-length': bytes.length,
          'content-disposition': `attachment; filename="distill-bundle-${dl[1]}.tar.gz"`,
        });
        return res.end(bytes);
      }

      if (req.method !== 'GET') return send(res, 405, { ok: false, error: 'not allowed' });
      const rel = url.pathname === '/' ? 'index.html' : decodeURIComponent(url.pathname).replace(/^\/+/, '');
      const file = path.resolve(staticDir, rel);
      if (!file.startsWith(staticDir + path.sep) || !existsSync(file) || !statSync(file).isFile()) {
        if (rel === 'index.html')
          return send(res, 500, { ok: false, error: 'the renderer is not built: npm run build:renderer' });
        return send(res, 404, { ok: false, error: 'not found' });
      }
      res.writeHead(200, {
        'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
        'content-security-policy': PAGE_CSP,
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
        'cache-control': 'no-store',
      });
      res.end(readFileSync(file));
    })().catch((err) => {
      if (!res.headersSent) send(res, 500, { ok: false, error: (err as Error).message });
      else res.destroy();
    });
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  const sockets = new Set<WebSocket>();
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const verdict =
      url.pathname === '/ws'
        ? checkRequest(req.headers, url, port, token)
        : ({ ok: false, status: 403, reason: 'no such socket' } as const);
    if (!verdict.ok) {
      socket.end(
        `HTTP/1.1 ${verdict.status} ${verdict.status === 401 ? 'Unauthorized' : 'Forbidden'}\r\nconnection: close\r\n\r\n`,
      );
      return;
    }
    // A malformed frame is an 'error' on that one socket; unhandled, it would end the process and
    // every run worker with it. The socket is dropped, the bridge goes on.
    socket.on('error', () => socket.destroy());
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.on('error', () => {
        sockets.delete(ws);
        ws.terminate();
      });
      ws.on('close', () => sockets.delete(ws));
    });
  });
  const unsubscribe = service.runs.onPush((p) => {
    const text = JSON.stringify(p);
    for (const ws of sockets) ws.send(text);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    port,
    token,
    service,
    async close() {
      unsubscribe();
      for (const ws of sockets) ws.terminate();
      wss.close();
      service.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
