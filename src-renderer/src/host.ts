/**
 * The renderer's one way to the engine (Netron's host pattern): inside Electron the preload's
 * `window.distill`, in a browser the `distill serve` bridge over fetch and WebSocket. Both speak
 * the contract in src-main/api; the UI never knows which it has.
 */
import type { ApiChannel, ApiHost, ApiRequest, ApiResponses, RunPush, ShellChannel } from '../../src-main/api/contract.ts';

export interface UiHost extends ApiHost {
  kind: 'electron' | 'browser';
  /** Hands the exported bundle of a run to the user (download or reveal in folder). */
  bundleLink(runId: string): string | null;
  /** Electron only: native folder picker, save dialog and file manager. */
  pickFolder?(): Promise<string | null>;
  saveBundle?(runId: string): Promise<string | null>;
  reveal?(runId: string): Promise<void>;
}

interface PreloadApi {
  call(channel: string, request: unknown): Promise<unknown>;
  shell(channel: ShellChannel, request: unknown): Promise<unknown>;
  onRunPush(cb: (p: RunPush) => void): () => void;
}

export class BridgeError extends Error {
  override name = 'BridgeError';
}

function electronHost(api: PreloadApi): UiHost {
  return {
    kind: 'electron',
    call: (channel, request) => api.call(channel, request) as never,
    onRunPush: (cb) => api.onRunPush(cb),
    bundleLink: () => null,
    pickFolder: () => api.shell('shell:pick-folder', { title: 'Choose an image folder' }) as Promise<string | null>,
    saveBundle: (runId) => api.shell('shell:save-bundle', { runId }) as Promise<string | null>,
    reveal: async (runId) => void (await api.shell('shell:reveal', { runId })),
  };
}

function browserHost(token: string): UiHost {
  const listeners = new Set<(p: RunPush) => void>();
  let socket: WebSocket | undefined;
  const connect = () => {
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws?token=${encodeURIComponent(token)}`);
    ws.onmessage = (m) => {
      const p = JSON.parse(String(m.data)) as RunPush;
      for (const l of listeners) l(p);
    };
    ws.onclose = () => {
      socket = undefined;
      if (listeners.size) setTimeout(connect, 1000);
    };
    socket = ws;
  };
  return {
    kind: 'browser',
    async call<C extends ApiChannel>(channel: C, request: ApiRequest<C>): Promise<ApiResponses[C]> {
      const res = await fetch(`/api/${channel}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(request),
      });
      const body = (await res.json()) as { ok: boolean; result?: ApiResponses[C]; error?: string };
      if (!body.ok) throw new BridgeError(body.error ?? `request failed (${res.status})`);
      return body.result as ApiResponses[C];
    },
    onRunPush(cb) {
      listeners.add(cb);
      if (!socket) connect();
      return () => listeners.delete(cb);
    },
    bundleLink: (runId) => `/download/${encodeURIComponent(runId)}.tar.gz?token=${encodeURIComponent(token)}`,
  };
}

export function createHost(): UiHost {
  const api = (window as unknown as { distill?: PreloadApi }).distill;
  if (api) return electronHost(api);
  const token = new URL(location.href).searchParams.get('token') ?? '';
  // Keep the token in memory only: drop it from the address bar and history.
  if (token) window.history.replaceState(null, '', location.pathname);
  return browserHost(token);
}
