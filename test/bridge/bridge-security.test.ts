/**
 * The bridge refuses what it must: no token, a wrong token, a foreign Host (DNS rebinding), a
 * foreign Origin, a WebSocket without the token, and requests that break the contract. Real
 * loopback server, real store in a temporary home.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WebSocket } from 'ws';
import { startBridge, type Bridge } from '../../src-main/bridge/bridge-server.ts';

let bridge: Bridge;
let staticDir: string;

before(async () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'distill-bridge-'));
  staticDir = path.join(tmp, 'dist');
  mkdirSync(staticDir);
  writeFileSync(path.join(staticDir, 'index.html'), '<!doctype html><title>t</title>');
  bridge = await startBridge({ home: path.join(tmp, 'home'), staticDir });
});
after(() => bridge.close());

/** A raw request, so Host and Origin can be set to anything (fetch forbids both). */
function request(opts: {
  path: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: bridge.port,
        path: opts.path,
        method: opts.method ?? 'GET',
        headers: { host: `127.0.0.1:${bridge.port}`, ...opts.headers },
      },
      (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

const api = (channel: string, body: unknown, headers: Record<string, string> = {}) =>
  request({
    path: `/api/${channel}`,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${bridge.token}`, ...headers },
    body: JSON.stringify(body),
  });

test('listens on 127.0.0.1 with a 32-byte hex token in the printed URL', () => {
  assert.match(bridge.token, /^[0-9a-f]{64}$/);
  assert.equal(bridge.url, `http://127.0.0.1:${bridge.port}/?token=${bridge.token}`);
});

test('a request with the token and a loopback Host is answered', async () => {
  const r = await api('engine:version', {});
  assert.equal(r.status, 200);
  assert.equal(JSON.parse(r.body).ok, true);
  const page = await request({ path: `/?token=${bridge.token}` });
  assert.equal(page.status, 200);
  assert.match(String(page.headers['content-security-policy']), /script-src 'self'/);
});

test('a request without the token, or with a wrong one, is refused', async () => {
  const none = await request({
    path: '/api/engine:version',
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  assert.equal(none.status, 401);
  const wrong = await api('engine:version', {}, { authorization: `Bearer ${'0'.repeat(64)}` });
  assert.equal(wrong.status, 401);
  assert.equal((await request({ path: '/' })).status, 401, 'the page itself needs the token');
  assert.equal((await request({ path: `/download/abcdef.tar.gz` })).status, 401);
});

test('a request from a non-loopback Host or Origin is refused even with the token', async () => {
  const rebound = await api('engine:version', {}, { host: `evil.example:${bridge.port}` });
  assert.equal(rebound.status, 403);
  const foreign = await api('engine:version', {}, { origin: 'http://evil.example' });
  assert.equal(foreign.status, 403);
  const otherPort = await api('engine:version', {}, { origin: `http://127.0.0.1:${bridge.port + 1}` });
  assert.equal(otherPort.status, 403);
  const ok = await api(
    'engine:version',
    {},
    { origin: `http://localhost:${bridge.port}`, host: `localhost:${bridge.port}` },
  );
  assert.equal(ok.status, 200);
});

test('the WebSocket needs the token and a loopback Origin', async () => {
  const open = (url: string, origin?: string) =>
    new Promise<string>((resolve) => {
      const ws = new WebSocket(url, origin ? { origin } : {});
      ws.on('open', () => {
        ws.close();
        resolve('open');
      });
      ws.on('unexpected-response', (_req, res) => resolve(String(res.statusCode)));
      ws.on('error', () => resolve('error'));
    });
  const base = `ws://127.0.0.1:${bridge.port}/ws`;
  assert.equal(await open(`${base}?token=${bridge.token}`), 'open');
  assert.equal(await open(base), '401');
  assert.equal(await open(`${base}?token=${bridge.token}`, 'http://evil.example'), '403');
});

test('requests that break the contract are rejected with 400 before any handler runs', async () => {
  const unknown = await api('fs:readFile', { path: '/etc/passwd' });
  assert.equal(unknown.status, 400);
  assert.match(JSON.parse(unknown.body).error, /unknown API channel/);
  const extra = await api('engine:version', { sneaky: true });
  assert.equal(extra.status, 400);
  const badId = await api('runs:pause', { runId: '../../etc' });
  assert.equal(badId.status, 400);
  const badPlan = await api('methods:plan', {
    method: 'kd-soft',
    kwargs: {},
    n: -1,
    responseKind: 'logits',
    budget: 10,
    pricePer1000: 0,
  });
  assert.equal(badPlan.status, 400);
  const notJson = await request({
    path: '/api/engine:version',
    method: 'POST',
    headers: { 'content-type': 'text/plain', authorization: `Bearer ${bridge.token}` },
    body: '{}',
  });
  assert.equal(notJson.status, 415);
});

test('static files cannot escape the renderer folder', async () => {
  const r = await request({ path: '/..%2f..%2fpackage.json' });
  assert.equal(r.status, 404);
});

test('a malformed WebSocket frame drops that socket only: the bridge and its other sockets go on', async () => {
  const port = bridge.port;
  const good = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${bridge.token}`, {
    headers: { origin: `http://127.0.0.1:${port}` },
  });
  await new Promise((resolve, reject) => {
    good.once('open', resolve);
    good.once('error', reject);
  });
  // A raw client: a correct upgrade, then a frame a client must never send (unmasked, reserved bits set).
  const raw = net.connect(port, '127.0.0.1');
  await new Promise((resolve) => raw.once('connect', resolve));
  raw.write(
    `GET /ws?token=${bridge.token} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nOrigin: http://127.0.0.1:${port}\r\n` +
      `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  await new Promise<void>((resolve) =>
    raw.once('data', (d) => {
      assert.match(String(d), /^HTTP\/1.1 101/);
      resolve();
    }),
  );
  const closed = new Promise((resolve) => raw.once('close', resolve));
  raw.write(Buffer.from([0xf1, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f]));
  await closed;
  const r = await api('engine:version', {});
  assert.equal(r.status, 200, 'the bridge still answers');
  assert.equal(good.readyState, WebSocket.OPEN, 'the other socket stays open');
  good.close();
});

test('the body limit counts bytes, and a UTF-8 character split across two reads arrives whole', async () => {
  const name = 'Ärger-Überblick-日本';
  const bytes = Buffer.from(JSON.stringify({ name }));
  const cut = bytes.indexOf(Buffer.from('日')) + 1;
  const split = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: bridge.port,
        path: '/api/projects:create',
        method: 'POST',
        headers: {
          host: `127.0.0.1:${bridge.port}`,
          'content-type': 'application/json',
          authorization: `Bearer ${bridge.token}`,
          'content-length': bytes.length,
        },
      },
      (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.write(bytes.subarray(0, cut));
    setTimeout(() => req.end(bytes.subarray(cut)), 50);
  });
  assert.equal(split.status, 200, split.body);
  assert.equal(JSON.parse(split.body).result.name, name);
  // 400,000 three-byte characters: 1.2 MB, over the 1 MiB limit, though under a million UTF-16 units.
  const big = await api('projects:create', { name: '日'.repeat(400_000) });
  assert.equal(big.status, 413);
});
