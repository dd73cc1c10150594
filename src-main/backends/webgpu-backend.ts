/**
 * The WebGPU path: Dawn for Node (the `webgpu` package, an optional dependency) provides a
 * WebGPU implementation on Vulkan, Metal or D3D12, and @tensorflow/tfjs-backend-webgpu runs
 * tfjs on it. Any GPU with one of those drivers works, not only CUDA ones.
 *
 * Order of events, so that nothing is left behind when there is no GPU:
 *   1. use an existing `navigator.gpu` if the host has one, else import Dawn and create an
 *      instance. On Linux Dawn is only started when the Vulkan loader (libvulkan.so.1) is there:
 *      without it Dawn can find nothing, and prints a native "Couldn't load Vulkan" warning to
 *      stderr on every start, which cannot be switched off from JS;
 *   2. ask for an adapter. None: the attempt fails and nothing was put on globalThis (Dawn's
 *      instance is simply dropped);
 *   3. only then put `navigator.gpu` and the WebGPU constants (GPUBufferUsage, GPUMapMode, …)
 *      that the tfjs backend reads as globals on globalThis, import the tfjs backend, and
 *      register a 'webgpu' factory that builds the backend on *this* adapter (the package's
 *      own factory would ask for a second adapter and hide the device from us);
 *   4. set the backend and run one small op, so a driver that hands out an adapter but cannot
 *      run compute shaders fails here rather than in the middle of a run.
 * `releaseWebGPU()` undoes 3 and destroys the device: a live Dawn device keeps Node's event
 * loop running (see the webgpu package's README, "Lifetime").
 *
 * Kernel coverage (checked against @tensorflow/tfjs-backend-webgpu 4.22.0's registrations):
 * every kernel that training and evaluating the zoo students dispatches, with the methods'
 * losses and generators, is registered for 'webgpu', including the gradients the wasm
 * backend lacks (Conv2DBackpropFilter/Input, DepthwiseConv2dNativeBackpropFilter/Input,
 * MaxPoolGrad, AvgPoolGrad) and FusedBatchNorm, FusedConv2D, FusedDepthwiseConv2D,
 * _FusedMatMul (activations linear, relu, relu6, elu, prelu, sigmoid, leakyrelu). Of tfjs's
 * cpu kernels it lacks only string, ragged, sparse, Unique, BitwiseAnd and NonMaxSuppressionV4,
 * none of which we use. Registration is not execution: no GPU was available where this was
 * written, so training on this backend has not been run (scripts/gpu-check.ts does that).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend as WebGPUBackendClass } from '@tensorflow/tfjs-backend-webgpu';
import { firstLine, isMissingPackage } from './load-errors.ts';

/** What is known about the GPU a backend runs on. */
export interface GpuInfo {
  /** How the GPU is reached: WebGPU (Dawn) or TensorFlow's CUDA build. */
  api: 'webgpu' | 'cuda';
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  /** WebGPU only: a software adapter (SwiftShader, lavapipe…), slower than the wasm backend. */
  fallback?: boolean;
}

export type WebGpuLoad = { ok: true; reason: string; gpu: GpuInfo } | { ok: false; reason: string };

// The few WebGPU shapes used here, typed locally: the package's own types are a second copy
// of @webgpu/types (tfjs-core already brings an older one), and the package is optional.
interface AdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}
interface DeviceLike {
  destroy(): void;
}
interface AdapterLike {
  readonly info?: AdapterInfoLike;
  readonly isFallbackAdapter?: boolean;
  readonly features: { has(name: string): boolean };
  readonly limits: object;
  requestAdapterInfo?(): Promise<AdapterInfoLike>;
  requestDevice(descriptor?: object): Promise<DeviceLike>;
}
interface GpuLike {
  requestAdapter(options?: { powerPreference?: 'high-performance' | 'low-power' }): Promise<AdapterLike | null>;
}
interface DawnModule {
  create(options: string[]): GpuLike;
  globals: Record<string, unknown>;
}

export const WEBGPU_TF_BACKEND = 'webgpu';
const DAWN_PACKAGE = 'webgpu';
const TF_WEBGPU_PACKAGE = '@tensorflow/tfjs-backend-webgpu';

/** Adapter limits the tfjs backend benefits from; the device gets the adapter's own values. */
const LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeWorkgroupsPerDimension',
  'maxComputeWorkgroupSizeX',
  'maxComputeInvocationsPerWorkgroup',
] as const;

interface Session {
  gpu: GpuLike;
  adapter: AdapterLike;
  info: GpuInfo;
  device: DeviceLike | null;
  /** Restores what was put on globalThis, newest first. */
  undo: (() => void)[];
}

let session: Session | null = null;
/**
 * Why the last probe of Dawn found nothing to use (package missing, no adapter…). Hardware and
 * packages do not appear while a process runs, so later attempts answer from here instead of
 * asking Dawn again (which would print its driver warning once more). A host's own
 * navigator.gpu is asked every time.
 */
let probeFailure: string | null = null;

/** One line for logs: `nvidia hopper, NVIDIA H100 80GB HBM3`. */
export function describeGpu(g: GpuInfo): string {
  const head = [g.vendor, g.architecture].filter((s) => s != null && s !== '').join(' ');
  const parts = [head, g.description ?? g.device].filter((s): s is string => s != null && s !== '');
  if (g.fallback) parts.push('software adapter');
  return parts.length > 0 ? parts.join(', ') : g.api === 'cuda' ? 'CUDA GPU' : 'unnamed adapter';
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}

async function readAdapterInfo(adapter: AdapterLike): Promise<GpuInfo> {
  let raw: AdapterInfoLike | undefined = adapter.info;
  if (raw == null && typeof adapter.requestAdapterInfo === 'function') {
    raw = await adapter.requestAdapterInfo().catch(() => undefined);
  }
  // Dawn exposes these as getters on the prototype: read them one by one, never spread.
  const info: GpuInfo = { api: 'webgpu' };
  const vendor = text(raw?.vendor);
  const architecture = text(raw?.architecture);
  const device = text(raw?.device);
  const description = text(raw?.description);
  if (vendor) info.vendor = vendor;
  if (architecture) info.architecture = architecture;
  if (device) info.device = device;
  if (description) info.description = description;
  info.fallback = Boolean(raw?.isFallbackAdapter ?? adapter.isFallbackAdapter);
  return info;
}

/** navigator.gpu as the host provides it (a browser, Deno, an embedder), if any. */
function hostGpu(): GpuLike | undefined {
  const nav = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator;
  return nav?.gpu ?? undefined;
}

/**
 * Puts `gpu` at globalThis.navigator.gpu and the missing WebGPU globals on globalThis, and
 * returns how to take them off again. Node 20 has no global navigator; Node ≥ 21 has one
 * without `gpu`.
 */
function installGlobals(gpu: GpuLike, globals: Record<string, unknown>): (() => void)[] {
  const undo: (() => void)[] = [];
  const g = globalThis as Record<string, unknown>;
  for (const [name, value] of Object.entries(globals)) {
    if (name in g) continue;
    Object.defineProperty(g, name, { value, configurable: true, writable: true, enumerable: false });
    undo.push(() => {
      delete g[name];
    });
  }
  const nav = g.navigator as Record<string, unknown> | undefined;
  if (nav == null) {
    Object.defineProperty(g, 'navigator', { value: { gpu }, configurable: true, writable: true, enumerable: false });
    undo.push(() => {
      delete g.navigator;
    });
  } else {
    Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true, writable: true, enumerable: false });
    undo.push(() => {
      delete nav.gpu;
    });
  }
  return undo;
}

/**
 * Loads the WebGPU backend and makes it the active tfjs backend, or says why not. A software
 * adapter is refused unless `allowSoftware` (the wasm backend is faster than a CPU emulating a
 * GPU), so automatic selection moves on while a forced `webgpu` still uses it.
 */
export async function loadWebGPU(opts: { allowSoftware: boolean }): Promise<WebGpuLoad> {
  if (session != null && tf.findBackendFactory(WEBGPU_TF_BACKEND) != null) {
    // Already set up by an earlier call: switch back to it.
    const s = session;
    return setAndCheck(s, `WebGPU adapter ${describeGpu(s.info)} (already initialised)`);
  }
  releaseWebGPU();
  if (hostGpu() == null && probeFailure != null) return { ok: false, reason: probeFailure };
  const res = await probe(opts);
  // A software adapter refused in automatic selection may still be taken when forced.
  if (!res.ok && !res.fromHost && !res.softwareOnly) probeFailure = res.reason;
  return res.ok ? activate(res.gpu, res.adapter, res.info, res.globals, res.fromHost) : res;
}

const VULKAN_LOADER = 'libvulkan.so.1';
/** Where glibc's dynamic loader looks when neither LD_LIBRARY_PATH nor its cache names the library. */
const DEFAULT_LIB_DIRS = [
  '/lib',
  '/usr/lib',
  '/lib64',
  '/usr/lib64',
  '/lib/x86_64-linux-gnu',
  '/usr/lib/x86_64-linux-gnu',
  '/lib/aarch64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
];

export interface LoaderLookup {
  env: NodeJS.ProcessEnv;
  exists: (file: string) => boolean;
  /** The dynamic loader's cache (/etc/ld.so.cache), or undefined when there is none. */
  ldCache: () => Uint8Array | undefined;
}

const realLookup: LoaderLookup = {
  env: process.env,
  exists: existsSync,
  ldCache: () => {
    try {
      return readFileSync('/etc/ld.so.cache');
    } catch {
      return undefined;
    }
  },
};

/**
 * Whether dlopen('libvulkan.so.1') can succeed, looked up the way glibc does: LD_LIBRARY_PATH,
 * then the ld.so cache (which names every library in the configured directories), then the
 * default directories.
 */
export function vulkanLoaderPresent(lookup: LoaderLookup = realLookup): boolean {
  const dirs = (lookup.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  if (dirs.some((d) => lookup.exists(path.join(d, VULKAN_LOADER)))) return true;
  const cache = lookup.ldCache();
  if (cache && Buffer.from(cache.buffer, cache.byteOffset, cache.byteLength).includes(VULKAN_LOADER)) return true;
  return DEFAULT_LIB_DIRS.some((d) => lookup.exists(path.join(d, VULKAN_LOADER)));
}

type Probe =
  | { ok: true; gpu: GpuLike; adapter: AdapterLike; info: GpuInfo; globals: Record<string, unknown>; fromHost: boolean }
  | { ok: false; reason: string; fromHost?: boolean; softwareOnly?: boolean };

/** Steps 1 and 2: find navigator.gpu or Dawn, and an adapter. Puts nothing on globalThis. */
async function probe(opts: { allowSoftware: boolean }): Promise<Probe> {
  let gpu = hostGpu();
  let globals: Record<string, unknown> = {};
  const fromHost = gpu != null;
  if (gpu == null) {
    if (process.platform === 'linux' && !vulkanLoaderPresent()) {
      return {
        ok: false,
        reason: `no Vulkan loader (${VULKAN_LOADER}) on this machine, which Dawn needs on Linux (install the GPU driver's Vulkan support, e.g. the libvulkan1 package)`,
      };
    }
    let dawn: DawnModule;
    try {
      // A non-literal specifier: the package is optional, and its types are not wanted (above).
      const specifier: string = DAWN_PACKAGE;
      dawn = (await import(specifier)) as DawnModule;
    } catch (err) {
      if (isMissingPackage(err, DAWN_PACKAGE))
        return { ok: false, reason: `not installed (optional package '${DAWN_PACKAGE}')` };
      return { ok: false, reason: `failed to load Dawn (package '${DAWN_PACKAGE}'): ${firstLine(err)}` };
    }
    try {
      gpu = dawn.create([]);
      globals = dawn.globals ?? {};
    } catch (err) {
      return { ok: false, reason: `Dawn failed to start: ${firstLine(err)}` };
    }
  }

  let adapter: AdapterLike | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (err) {
    return { ok: false, reason: `no WebGPU adapter (requestAdapter threw: ${firstLine(err)})`, fromHost };
  }
  if (adapter == null) {
    return {
      ok: false,
      fromHost,
      reason: fromHost
        ? 'no WebGPU adapter (navigator.gpu returned none)'
        : 'no WebGPU adapter (Dawn found no GPU with a usable Vulkan, Metal or D3D12 driver)',
    };
  }
  const info = await readAdapterInfo(adapter);
  if (info.fallback && !opts.allowSoftware) {
    return {
      ok: false,
      reason: `only a software WebGPU adapter (${describeGpu(info)}); force webgpu to use it anyway`,
      softwareOnly: true,
    };
  }
  return { ok: true, gpu, adapter, info, globals, fromHost };
}

/** Steps 3 and 4. */
async function activate(
  gpu: GpuLike,
  adapter: AdapterLike,
  info: GpuInfo,
  globals: Record<string, unknown>,
  fromHost: boolean,
): Promise<WebGpuLoad> {
  const s: Session = { gpu, adapter, info, device: null, undo: fromHost ? [] : installGlobals(gpu, globals) };
  session = s;

  let WebGPUBackend: typeof WebGPUBackendClass;
  try {
    ({ WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu'));
  } catch (err) {
    releaseWebGPU();
    if (isMissingPackage(err, TF_WEBGPU_PACKAGE))
      return { ok: false, reason: `WebGPU adapter found but ${TF_WEBGPU_PACKAGE} is not installed` };
    return { ok: false, reason: `failed to load ${TF_WEBGPU_PACKAGE}: ${firstLine(err)}` };
  }
  // The package registers its own factory on first import when navigator.gpu exists; ours
  // replaces it (same backend class, built on the adapter chosen above).
  if (tf.findBackendFactory(WEBGPU_TF_BACKEND) != null) tf.removeBackend(WEBGPU_TF_BACKEND);
  let initError: unknown = null;
  tf.registerBackend(
    WEBGPU_TF_BACKEND,
    async () => {
      try {
        const limits = s.adapter.limits as Record<string, unknown>;
        const requiredLimits: Record<string, number> = {};
        for (const k of LIMITS) if (typeof limits[k] === 'number') requiredLimits[k] = limits[k];
        const requiredFeatures = ['timestamp-query'].filter((f) => s.adapter.features.has(f));
        s.device = await s.adapter.requestDevice({ requiredLimits, requiredFeatures });
        type Args = ConstructorParameters<typeof WebGPUBackendClass>;
        return new WebGPUBackend(s.device as unknown as Args[0], s.adapter.info as unknown as Args[1]);
      } catch (err) {
        initError = err;
        throw err;
      }
    },
    0 /* priority: only ever chosen by name */,
  );

  const res = await setAndCheck(s, `WebGPU adapter ${describeGpu(info)}`);
  if (!res.ok) {
    releaseWebGPU();
    if (initError != null)
      return {
        ok: false,
        reason: `WebGPU adapter ${describeGpu(info)} found, but requesting a device failed: ${firstLine(initError)}`,
      };
  }
  return res;
}

async function setAndCheck(s: Session, okReason: string): Promise<WebGpuLoad> {
  const warn = console.warn;
  try {
    // tf.setBackend reports a failed factory through console.warn and returns false; the
    // reason is returned to the caller instead.
    console.warn = () => {};
    const ok = await tf.setBackend(WEBGPU_TF_BACKEND);
    console.warn = warn;
    if (!ok) return { ok: false, reason: `tf.setBackend('${WEBGPU_TF_BACKEND}') failed to initialise the backend` };
    await tf.ready();
    // One small op through a compute shader and back.
    const t = tf.tidy(() => tf.add(tf.tensor1d([1, 2, 3, 4]), tf.scalar(1)));
    const got = Array.from(await t.data());
    t.dispose();
    if (got.join(',') !== '2,3,4,5')
      return { ok: false, reason: `WebGPU test op returned ${got.join(',')} instead of 2,3,4,5` };
    return { ok: true, reason: okReason, gpu: { ...s.info } };
  } catch (err) {
    return { ok: false, reason: `WebGPU backend failed its test op: ${firstLine(err)}` };
  } finally {
    console.warn = warn;
  }
}

/** The adapter the webgpu backend runs on, if it is set up. */
export function webgpuInfo(): GpuInfo | null {
  return session ? { ...session.info } : null;
}

/**
 * Disposes the 'webgpu' tfjs backend (its tensors become invalid), destroys the device, and
 * takes navigator.gpu and the WebGPU globals off globalThis again. Safe to call at any time.
 */
export function releaseWebGPU(): void {
  const s = session;
  session = null;
  if (s == null) return;
  if (tf.findBackendFactory(WEBGPU_TF_BACKEND) != null) tf.removeBackend(WEBGPU_TF_BACKEND);
  try {
    s.device?.destroy();
  } catch {
    // Already lost or destroyed.
  }
  for (const u of s.undo.reverse()) u();
}
