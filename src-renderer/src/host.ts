/**
 * The renderer's one way to the engine (Netron's host pattern): inside Electron the preload's
 * `window.distill`, in a browser the `distill serve` bridge over fetch and WebSocket. Both speak
 * the contract in src-main/api; the UI never knows which it has.
 */
import type {
  ApiChannel,
  ApiHost,
  ApiReply,
  ApiRequest,
  ApiResponses,
  ErrorCode,
  RunPush,
  ShellChannel,
} from '../../src-main/api/contract.ts';
import { isErrorCode } from '../../src-main/api/errors.ts';

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

/**
 * A call the engine answered with a failure: `name`, `code` and `message` as the engine threw
 * them (the steps branch on `errorCode(e)`), or 'BridgeError' / 'unknown' when the reply says less.
 */
export class BridgeError extends Error {
  override name = 'BridgeError';
  readonly code: ErrorCode;
  constructor(message: string, code?: unknown, name?: unknown) {
    super(message);
    this.code = isErrorCode(code) ? code : 'unknown';
    if (typeof name === 'string' && name) this.name = name;
  }
}

/** The result of an ApiReply, or its failure thrown as a BridgeError. */
function unwrap<T>(reply: Partial<ApiReply<T>> | undefined, status?: number): T {
  if (reply?.ok) return reply.result as T;
  const failure = (reply ?? {}) as { error?: unknown; code?: unknown; name?: unknown };
  throw new BridgeError(
    typeof failure.error === 'string' ? failure.error : `request failed${status ? ` (${status})` : ''}`,
    failure.code,
    failure.name,
  );
}

function electronHost(api: PreloadApi): UiHost {
  // The main process answers every call with an ApiReply (main.ts), so a failure keeps its code.
  const shell = async <T>(channel: ShellChannel, request: unknown) =>
    unwrap((await api.shell(channel, request)) as ApiReply<T>);
  return {
    kind: 'electron',
    call: async (channel, request) => unwrap((await api.call(channel, request)) as ApiReply<never>),
    onRunPush: (cb) => api.onRunPush(cb),
    bundleLink: () => null,
    pickFolder: () => shell<string | null>('shell:pick-folder', { title: 'Choose an image folder' }),
    saveBundle: (runId) => shell<string | null>('shell:save-bundle', { runId }),
    reveal: async (runId) => void (await shell('shell:reveal', { runId })),
  };
}

function browserHost(token: string): UiHost {
  const listeners = new Set<(p: RunPush) => void>();
  let socket: WebSocket | undefined;
  const connect = () => {
    const ws = new WebSocket(
      `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws?token=${encodeURIComponent(token)}`,
    );
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
      return unwrap((await res.json()) as ApiReply<ApiResponses[C]>, res.status);
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
