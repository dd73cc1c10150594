/**
 * Who may talk to `distill serve`. Two checks, both required:
 *  - the token printed at start, as `Authorization: Bearer …` or `?token=` (WebSocket, download);
 *  - Host (and Origin, when the browser sends one) naming 127.0.0.1 or localhost at our port, so a
 *    page from another site that rebinds its DNS name to 127.0.0.1 is still refused.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export type GuardVerdict = { ok: true } | { ok: false; status: 401 | 403; reason: string };

export function loopbackHosts(port: number): Set<string> {
  return new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
}

/** The DNS-rebinding and cross-site guard. */
export function checkOrigin(headers: IncomingHttpHeaders, port: number): GuardVerdict {
  const hosts = loopbackHosts(port);
  const host = (headers.host ?? '').toLowerCase();
  if (!hosts.has(host)) return { ok: false, status: 403, reason: `Host "${host}" is not this loopback server` };
  const origin = headers.origin;
  if (origin !== undefined) {
    let o: URL;
    try {
      o = new URL(origin);
    } catch {
      return { ok: false, status: 403, reason: 'malformed Origin' };
    }
    if (o.protocol !== 'http:' || !hosts.has(o.host.toLowerCase()))
      return { ok: false, status: 403, reason: `Origin "${origin}" is not this loopback server` };
  }
  return { ok: true };
}

export function tokenMatches(expected: string, given: string | null | undefined): boolean {
  if (!given) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The token from the Authorization header or the `token` query parameter. */
export function presentedToken(headers: IncomingHttpHeaders, url: URL): string | null {
  const auth = headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim();
  return url.searchParams.get('token');
}

export function checkRequest(headers: IncomingHttpHeaders, url: URL, port: number, token: string): GuardVerdict {
  const o = checkOrigin(headers, port);
  if (!o.ok) return o;
  if (!tokenMatches(token, presentedToken(headers, url)))
    return { ok: false, status: 401, reason: 'missing or wrong token' };
  return { ok: true };
}
