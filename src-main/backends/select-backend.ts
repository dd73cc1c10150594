/**
 * Chooses the fastest TensorFlow.js backend this machine can actually load.
 *
 * Preference order: tfjs-node-gpu → webgpu → tfjs-node → wasm → cpu. The two native packages
 * are optional dependencies (their install step downloads libtensorflow and may be skipped or
 * fail), so they are probed at run time and every skipped candidate records why.
 *
 * GPUs:
 *   - tfjs-node-gpu is TensorFlow's CUDA build (CUDA 11.2 + cuDNN 8.1). When it loads but
 *     TensorFlow finds no CUDA GPU it would quietly run on the CPU; that counts as a failed
 *     attempt here, so the GPU is never claimed when it is not used.
 *   - webgpu is @tensorflow/tfjs-backend-webgpu on Dawn (the optional `webgpu` package): any GPU
 *     with a Vulkan, Metal or D3D12 driver. No adapter means a failed attempt; a software
 *     adapter is skipped unless webgpu is forced (see webgpu-backend.ts). Call
 *     `releaseBackend()` before a process that used it should exit: a live Dawn device keeps
 *     Node's event loop running.
 *   The chosen GPU, when there is one, is in `BackendChoice.gpu`.
 *
 * Forcing a backend:
 *   - `initBackend({ force: 'wasm' })`, or
 *   - the environment variable `DISTILL_BACKEND` set to one of
 *     `tfjs-node-gpu`, `webgpu`, `tfjs-node`, `wasm`, `cpu` (`auto` or empty means "choose").
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
import { firstLine, isMissingPackage } from './load-errors.ts';
import { describeGpu, loadWebGPU, releaseWebGPU, type GpuInfo } from './webgpu-backend.ts';
import { registerTrainingSpeedups } from './training-speedups.ts';
import { registerWasmFastKernels } from './wasm-fast-kernels.ts';
import { registerHeapKernels } from './heap-kernels.ts';

// tfjs prints its own advice through console.warn (the cpu backend's "Hi, looks like you are running
// TensorFlow.js in Node.js…" banner on first use, among others). The engine states which backend it
// chose and why every other one was not loaded, so those lines only alarm a user; production mode
// silences tfjs's logging and nothing else. DISTILL_TFJS_WARNINGS=1 keeps them, for debugging tfjs.
if (process.env.DISTILL_TFJS_WARNINGS !== '1') tf.env().set('PROD', true);

export type BackendKey = 'tfjs-node-gpu' | 'webgpu' | 'tfjs-node' | 'wasm' | 'cpu';
export type { GpuInfo };

export interface BackendAttempt {
  key: BackendKey;
  ok: boolean;
  reason: string;
}

export interface BackendChoice {
  key: BackendKey;
  /** Name of the backend inside tfjs ('tensorflow' for both native packages, 'webgpu'). */
  tfBackend: string;
  /** Why this backend was chosen. */
  reason: string;
  /** Every candidate tried, in order, including the chosen one. */
  attempts: BackendAttempt[];
  tfjsVersion: string;
  /** Only for wasm: whether the SIMD build of the wasm binary is in use. */
  simd?: boolean;
  /** Only for a backend that runs on a GPU: what is known about it (WebGPU adapter info). */
  gpu?: GpuInfo;
}

export const BACKEND_ORDER: readonly BackendKey[] = ['tfjs-node-gpu', 'webgpu', 'tfjs-node', 'wasm', 'cpu'];

/** Environment variable that forces a backend when `initBackend` gets no `force` option. */
export const BACKEND_ENV_VAR = 'DISTILL_BACKEND';

export function isBackendKey(v: string): v is BackendKey {
  return (BACKEND_ORDER as readonly string[]).includes(v);
}

type LoadResult =
  { ok: true; tfBackend: string; reason: string; simd?: boolean; gpu?: GpuInfo } | { ok: false; reason: string };

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

const CUDA_NEEDS = 'needs an NVIDIA GPU with CUDA 11.2 + cuDNN 8.1';

/** The public fields of tfjs-node's NodeJSKernelBackend that tell CPU from GPU. */
interface NodeBackendLike {
  isGPUPackage?: boolean;
  isUsingGpuDevice?: boolean;
}

async function loadNative(key: 'tfjs-node-gpu' | 'tfjs-node'): Promise<LoadResult> {
  const pkg = `@tensorflow/${key}`;
  const gpuPackage = key === 'tfjs-node-gpu';
  polyfillNodeUtil();
  try {
    // A non-literal specifier keeps TypeScript from demanding the (optional) package's types.
    const specifier: string = pkg;
    await import(specifier);
  } catch (err) {
    if (isMissingPackage(err, pkg)) return { ok: false, reason: 'not installed' };
    return { ok: false, reason: `failed to load: ${firstLine(err)}${gpuPackage ? ` (${CUDA_NEEDS})` : ''}` };
  }
  // The package registers 'tensorflow' with the tfjs-core copy it resolves; if that is not our
  // copy (version mismatch, nested node_modules) our engine never sees the backend.
  if (tf.findBackendFactory('tensorflow') == null) {
    return {
      ok: false,
      reason: `${pkg} loaded but registered no 'tensorflow' backend with this @tensorflow/tfjs (duplicate tfjs-core?)`,
    };
  }
  const res = await trySetBackend('tensorflow', `${pkg} loaded`);
  if (!res.ok) return res;
  // Both packages register the same backend name, and the first one loaded wins.
  const backend = tf.backend() as unknown as NodeBackendLike;
  if (gpuPackage) {
    if (backend.isGPUPackage === false) {
      return {
        ok: false,
        reason: `the 'tensorflow' backend already loaded comes from @tensorflow/tfjs-node (CPU build), not ${pkg}`,
      };
    }
    // tfjs-node-gpu falls back to the CPU when TensorFlow lists no GPU device (no driver, no
    // CUDA/cuDNN libraries of the right version): a GPU backend that is not one.
    if (backend.isUsingGpuDevice === false) {
      return {
        ok: false,
        reason: `loaded, but TensorFlow found no usable CUDA GPU and would run on the CPU (${CUDA_NEEDS})`,
      };
    }
    return backend.isUsingGpuDevice === true ? { ...res, gpu: { api: 'cuda' } } : res;
  }
  if (backend.isGPUPackage === true) {
    return {
      ...res,
      reason: `${pkg} loaded; the 'tensorflow' backend is the one @tensorflow/tfjs-node-gpu registered first, running on the CPU`,
    };
  }
  return res;
}

async function loadWebGPUBackend(forced: boolean): Promise<LoadResult> {
  const res = await loadWebGPU({ allowSoftware: forced });
  if (!res.ok) return res;
  return { ok: true, tfBackend: tf.getBackend(), reason: res.reason, gpu: res.gpu };
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
  registerWasmFastKernels();
  registerHeapKernels();
  let simd: boolean | undefined;
  try {
    simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  } catch {
    simd = undefined;
  }
  return { ...res, simd };
}

function load(key: BackendKey, forced: boolean): Promise<LoadResult> {
  switch (key) {
    case 'tfjs-node-gpu':
    case 'tfjs-node':
      return loadNative(key);
    case 'webgpu':
      return loadWebGPUBackend(forced);
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
    throw new Error(
      `${BACKEND_ENV_VAR}='${env}' is not a backend; expected one of ${BACKEND_ORDER.join(', ')} or auto`,
    );
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
  const previous = tf.getBackend() as string | null | undefined;
  for (const key of candidates) {
    const res = await load(key, forced != null);
    attempts.push({ key, ok: res.ok, reason: res.reason });
    if (!res.ok) continue;
    registerTrainingSpeedups();
    const choice: BackendChoice = {
      key,
      tfBackend: res.tfBackend,
      reason: forced ? `forced by ${forced.source}` : `first loadable of ${BACKEND_ORDER.join(' → ')}`,
      attempts,
      tfjsVersion: tf.version.tfjs,
    };
    if (res.simd !== undefined) choice.simd = res.simd;
    if (res.gpu !== undefined) choice.gpu = res.gpu;
    return choice;
  }
  if (forced) {
    // A failed attempt may have switched backends (tfjs-node-gpu on the CPU); put back the one
    // that was active before.
    if (previous && tf.getBackend() !== previous && tf.findBackendFactory(previous) != null)
      await tf.setBackend(previous);
    throw new Error(
      `Backend '${forced.key}' was forced by ${forced.source} but could not be loaded: ${attempts[0].reason}`,
    );
  }
  throw new Error(
    `No TensorFlow.js backend could be loaded: ${attempts.map((a) => `${a.key}: ${a.reason}`).join('; ')}`,
  );
}

/**
 * One line for logs and the UI, e.g. `backend wasm (SIMD) — tfjs-node-gpu: not installed; webgpu: no WebGPU
 * adapter (…); tfjs-node: not installed`, or `backend webgpu (nvidia hopper, NVIDIA H100 80GB HBM3) — …`.
 */
export function describeBackend(c: BackendChoice): string {
  const simd = c.simd === undefined ? '' : c.simd ? ' (SIMD)' : ' (no SIMD)';
  const gpu = c.gpu === undefined ? '' : ` (${describeGpu(c.gpu)})`;
  const skipped = c.attempts.filter((a) => !a.ok).map((a) => `${a.key}: ${a.reason}`);
  const tail = skipped.length > 0 ? skipped.join('; ') : c.reason;
  return `backend ${c.key}${simd}${gpu} — ${tail}`;
}

/**
 * Lets go of GPU resources (the WebGPU device and Dawn's instance) so the process can exit;
 * tensors on the webgpu backend become invalid. Safe to call whatever backend is in use.
 */
export function releaseBackend(): void {
  releaseWebGPU();
}
