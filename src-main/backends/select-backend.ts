/**
 * Chooses the fastest TensorFlow.js backend this machine can actually load.
 *
 * Preference order: tfjs-node-gpu → tfjs-node → wasm → cpu. The two native packages are
 * optional dependencies (their install step downloads libtensorflow and may be skipped or
 * fail), so they are probed at run time and every skipped candidate records why.
 *
 * Forcing a backend:
 *   - `initBackend({ force: 'wasm' })`, or
 *   - the environment variable `DISTILL_BACKEND` set to one of
 *     `tfjs-node-gpu`, `tfjs-node`, `wasm`, `cpu` (`auto` or empty means "choose").
 *   The option wins over the variable. A forced backend that cannot be loaded is an error,
 *   never a silent fallback: a user who asked for the GPU must not end up training on the CPU
 *   without knowing it.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import path from 'node:path';
import util from 'node:util';
import { registerWasmGradientKernels } from './wasm-gradient-kernels.ts';

export type BackendKey = 'tfjs-node-gpu' | 'tfjs-node' | 'wasm' | 'cpu';

export interface BackendAttempt {
  key: BackendKey;
  ok: boolean;
  reason: string;
}

export interface BackendChoice {
  key: BackendKey;
  /** Name of the backend inside tfjs ('tensorflow' for both native packages). */
  tfBackend: string;
  /** Why this backend was chosen. */
  reason: string;
  /** Every candidate tried, in order, including the chosen one. */
  attempts: BackendAttempt[];
  tfjsVersion: string;
  /** Only for wasm: whether the SIMD build of the wasm binary is in use. */
  simd?: boolean;
}

export const BACKEND_ORDER: readonly BackendKey[] = ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'];

/** Environment variable that forces a backend when `initBackend` gets no `force` option. */
export const BACKEND_ENV_VAR = 'DISTILL_BACKEND';

export function isBackendKey(v: string): v is BackendKey {
  return (BACKEND_ORDER as readonly string[]).includes(v);
}

type LoadResult = { ok: true; tfBackend: string; reason: string; simd?: boolean } | { ok: false; reason: string };

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const line = msg.split('\n').map((l) => l.trim()).find((l) => l.length > 0) ?? 'unknown error';
  return line.length > 200 ? `${line.slice(0, 197)}...` : line;
}

function isMissingPackage(err: unknown, pkg: string): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false;
  // A missing dependency *of* the package is a broken install, not an absent one.
  const msg = err instanceof Error ? err.message : '';
  return msg.includes(`'${pkg}'`) || msg.includes(`"${pkg}"`) || msg.includes(`${pkg}/`);
}

/**
 * tfjs-node(-gpu) 4.22 calls util.isNullOrUndefined, which Node 23 removed; without it the
 * package throws while loading. Only add it when missing so older Nodes keep their own.
 */
function polyfillNodeUtil(): void {
  const u = util as unknown as Record<string, unknown>;
  if (typeof u.isNullOrUndefined !== 'function') {
    u.isNullOrUndefined = (v: unknown): boolean => v === null || v === undefined;
  }
}

async function loadNative(key: 'tfjs-node-gpu' | 'tfjs-node'): Promise<LoadResult> {
  const pkg = `@tensorflow/${key}`;
  polyfillNodeUtil();
  try {
    // A non-literal specifier keeps TypeScript from demanding the (optional) package's types.
    const specifier: string = pkg;
    await import(specifier);
  } catch (err) {
    if (isMissingPackage(err, pkg)) return { ok: false, reason: 'not installed' };
    return { ok: false, reason: `failed to load: ${firstLine(err)}` };
  }
  // The package registers 'tensorflow' with the tfjs-core copy it resolves; if that is not our
  // copy (version mismatch, nested node_modules) our engine never sees the backend.
  if (tf.findBackendFactory('tensorflow') == null) {
    return { ok: false, reason: `${pkg} loaded but registered no 'tensorflow' backend with this @tensorflow/tfjs (duplicate tfjs-core?)` };
  }
  return trySetBackend('tensorflow', `${pkg} loaded`);
}

async function trySetBackend(name: string, okReason: string): Promise<LoadResult> {
  try {
    if (await tf.setBackend(name)) {
      await tf.ready();
      return { ok: true, tfBackend: tf.getBackend(), reason: okReason };
    }
    return { ok: false, reason: `tf.setBackend('${name}') failed to initialise the backend` };
  } catch (err) {
    return { ok: false, reason: `tf.setBackend('${name}') threw: ${firstLine(err)}` };
  }
}

/** The package's dist/ folder, where the .wasm binaries live (trailing slash: it is a prefix). */
export function wasmBinaryDir(): string {
  const req = createRequire(import.meta.url);
  return path.join(path.dirname(req.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep;
}

async function loadWasm(): Promise<LoadResult> {
  // setWasmPaths refuses to run once the backend has been initialised, and is not needed then.
  if (tf.findBackend('wasm') == null) {
    try {
      setWasmPaths(wasmBinaryDir());
    } catch (err) {
      return { ok: false, reason: `setWasmPaths failed: ${firstLine(err)}` };
    }
  }
  const res = await trySetBackend('wasm', 'wasm binaries loaded');
  if (!res.ok) return res;
  registerWasmGradientKernels();
  let simd: boolean | undefined;
  try {
    simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  } catch {
    simd = undefined;
  }
  return { ...res, simd };
}

function load(key: BackendKey): Promise<LoadResult> {
  switch (key) {
    case 'tfjs-node-gpu':
    case 'tfjs-node':
      return loadNative(key);
    case 'wasm':
      return loadWasm();
    case 'cpu':
      return trySetBackend('cpu', 'pure-JS backend');
  }
}

function resolveForce(opts?: { force?: BackendKey }): { key: BackendKey; source: string } | null {
  if (opts?.force != null) {
    if (!isBackendKey(opts.force)) {
      throw new Error(`Unknown backend '${String(opts.force)}'; expected one of ${BACKEND_ORDER.join(', ')}`);
    }
    return { key: opts.force, source: 'option force' };
  }
  const env = process.env[BACKEND_ENV_VAR]?.trim();
  if (env == null || env === '' || env.toLowerCase() === 'auto') return null;
  if (!isBackendKey(env)) {
    throw new Error(`${BACKEND_ENV_VAR}='${env}' is not a backend; expected one of ${BACKEND_ORDER.join(', ')} or auto`);
  }
  return { key: env, source: `${BACKEND_ENV_VAR}=${env}` };
}

/**
 * Loads and activates a backend (see the module comment for the order and for forcing).
 * Throws when a forced backend cannot be loaded, or when nothing at all can (cpu should
 * always load, so that means a broken tfjs install).
 */
export async function initBackend(opts?: { force?: BackendKey }): Promise<BackendChoice> {
  const forced = resolveForce(opts);
  const attempts: BackendAttempt[] = [];
  const candidates = forced ? [forced.key] : BACKEND_ORDER;
  for (const key of candidates) {
    const res = await load(key);
    attempts.push({ key, ok: res.ok, reason: res.reason });
    if (!res.ok) continue;
    const choice: BackendChoice = {
      key,
      tfBackend: res.tfBackend,
      reason: forced ? `forced by ${forced.source}` : `first loadable of ${BACKEND_ORDER.join(' → ')}`,
      attempts,
      tfjsVersion: tf.version.tfjs,
    };
    if (res.simd !== undefined) choice.simd = res.simd;
    return choice;
  }
  if (forced) {
    throw new Error(`Backend '${forced.key}' was forced by ${forced.source} but could not be loaded: ${attempts[0].reason}`);
  }
  throw new Error(`No TensorFlow.js backend could be loaded: ${attempts.map((a) => `${a.key}: ${a.reason}`).join('; ')}`);
}

/** One line for logs and the UI, e.g. `backend wasm (SIMD) — tfjs-node-gpu: not installed; tfjs-node: not installed`. */
export function describeBackend(c: BackendChoice): string {
  const simd = c.simd === undefined ? '' : c.simd ? ' (SIMD)' : ' (no SIMD)';
  const skipped = c.attempts.filter((a) => !a.ok).map((a) => `${a.key}: ${a.reason}`);
  const tail = skipped.length > 0 ? skipped.join('; ') : c.reason;
  return `backend ${c.key}${simd} — ${tail}`;
}
