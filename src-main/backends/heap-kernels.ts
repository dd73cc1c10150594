/**
 * Kernels for the wasm backend whose passes are WebAssembly SIMD (wasm-simd/heap-passes.wat) working in
 * place on tfjs-wasm's heap: training-mode batch normalisation as one kernel forward and one backward,
 * the ReLU/ReLU6 gradient as one masking kernel, and the filter gradient of a one-channel, stride-1
 * convolution. Composed from tfjs ops (fast-layers.ts, batchNormTraining), batch norm ran a dozen or more
 * kernels each way, most of them on [C]-sized tensors where tfjs's dispatch is the whole cost: a
 * MobileNet-tiny step made 652 top-level kernel calls with them and 409 with these. Each of the two
 * batch-norm kernels makes two passes over the tensor; the mask, one.
 *
 * Over the N·H·W rows of an NHWC tensor, per channel c, with M = N·H·W:
 *   mean = Σx / M,  var = Σ(x − mean)² / M (biased, as tfjs's moments),  s = 1/√(var + ε)
 *   y = (x − mean)·γ·s + β
 *   dβ = Σdy,  dγ = s·Σdy·(x − mean)
 *   dx = γ·s·(dy − dβ/M − (x − mean)·s²·Σdy·(x − mean)/M)
 * Sums are accumulated in float64; the stored values are float32. Channels must be a multiple of 4.
 */
import * as tf from '@tensorflow/tfjs';
import type { WasmBackendLike } from './wasm-backend-like.ts';
import { WASM_BASE64 } from './wasm-simd/heap-passes.bytes.ts';

export const BATCH_NORM_TRAIN = 'DistillBatchNormTrain';
export const BATCH_NORM_TRAIN_GRAD = 'DistillBatchNormTrainGrad';
/** dy where lo < x <= hi, else 0: the gradient of ReLU (lo 0, hi ∞) and of ReLU6 (lo 0, hi 6). */
export const MASK_GRAD = 'DistillMaskGrad';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

function float32(t: tf.TensorInfo | undefined, kernel: string, name: string): tf.TensorInfo {
  if (t == null) throw new Error(`${kernel}: missing input '${name}'`);
  if (t.dtype !== 'float32') throw new Error(`${kernel}: input '${name}' must be float32, got ${t.dtype}`);
  return t;
}

function channelsOf(x: tf.TensorInfo, kernel: string): { C: number; M: number } {
  const C = x.shape[x.shape.length - 1];
  if (x.shape.length < 2 || !(C > 0))
    throw new Error(`${kernel}: expected a tensor with channels last, got shape [${x.shape.join(', ')}]`);
  return { C, M: tf.util.sizeFromShape(x.shape) / C };
}

interface Passes {
  sums(x: number, M: number, C: number, s: number): void;
  gradSums(dy: number, x: number, M: number, C: number, s: number): void;
  affine(x: number, y: number, M: number, C: number, a: number, b: number): void;
  affine2(dy: number, x: number, out: number, M: number, C: number, a: number, b: number, e: number): void;
  maskGrad(dy: number, x: number, out: number, n: number, lo: number, hi: number): void;
  pad1(x: number, xp: number, N: number, H: number, W: number, Hp: number, Wp: number, top: number, left: number): void;
  planar(g: number, gT: number, N: number, P: number, C: number): void;
  filterGradC1(
    xp: number,
    gT: number,
    acc: number,
    out: number,
    N: number,
    Hp: number,
    Wp: number,
    Ho: number,
    Wo: number,
    C: number,
    KH: number,
    KW: number,
  ): void;
}

interface BackendWithHeap extends WasmBackendLike {
  disposeData(dataId: tf.DataId): boolean;
  wasm?: { asm?: { memory?: unknown } };
}

/**
 * One instance per tfjs-wasm heap (each worker thread has its own), importing that heap's memory;
 * null where the module does not compile (an engine without WebAssembly SIMD).
 */
const instances = new WeakMap<WebAssembly.Memory, Passes | null>();

function heapMemory(backend: unknown): WebAssembly.Memory | undefined {
  const m = (backend as BackendWithHeap).wasm?.asm?.memory;
  return m instanceof WebAssembly.Memory ? m : undefined;
}

/** The passes working on `backend`'s heap, or undefined where the heap is out of reach or the module does not compile. */
function heapPasses(backend: unknown): Passes | undefined {
  const memory = heapMemory(backend);
  if (!memory) return undefined;
  let p = instances.get(memory);
  if (p === undefined) {
    try {
      const module = new WebAssembly.Module(Buffer.from(WASM_BASE64, 'base64'));
      p = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as Passes;
    } catch {
      p = null;
    }
    instances.set(memory, p);
  }
  return p ?? undefined;
}

function requirePasses(backend: unknown, kernel: string): Passes {
  const f = heapPasses(backend);
  if (!f) throw new Error(`${kernel}: the WebAssembly passes cannot run on this wasm backend's heap`);
  return f;
}

/**
 * A scratch tensor on the heap: 2·C doubles of sums, then three C-float coefficient rows. With C a
 * multiple of 4 every part starts 16-byte aligned relative to the block.
 */
function scratch(backend: BackendWithHeap, C: number): tf.TensorInfo {
  return backend.makeOutput([7 * C], 'float32');
}

/**
 * Outputs [y, mean, variance, invStd], all but y of shape [C]. Given movingMean and movingVariance
 * as inputs (and attr momentum), also [newMovingMean, newMovingVariance], updated as tfjs-layers
 * does: moving − (moving − batch value)·(1 − momentum).
 */
function batchNormTrain(args: KernelArgs): tf.TensorInfo[] {
  const k = BATCH_NORM_TRAIN;
  const x = float32(args.inputs.x, k, 'x');
  const gamma = float32(args.inputs.gamma, k, 'gamma');
  const beta = float32(args.inputs.beta, k, 'beta');
  const epsilon = Number((args.attrs as { epsilon?: number } | undefined)?.epsilon);
  if (!(epsilon >= 0)) throw new Error(`${k}: epsilon must be a non-negative number`);
  const { C, M } = channelsOf(x, k);
  if (gamma.shape.length !== 1 || gamma.shape[0] !== C || beta.shape.length !== 1 || beta.shape[0] !== C) {
    throw new Error(`${k}: gamma and beta must have shape [${C}]`);
  }
  const { movingMean, movingVariance } = args.inputs;
  const moving = movingMean != null || movingVariance != null;
  const momentum = Number((args.attrs as { momentum?: number } | undefined)?.momentum);
  if (moving) {
    for (const [name, t] of [
      ['movingMean', movingMean],
      ['movingVariance', movingVariance],
    ] as const) {
      const v = float32(t, k, name);
      if (v.shape.length !== 1 || v.shape[0] !== C) throw new Error(`${k}: ${name} must have shape [${C}]`);
    }
    if (!(momentum >= 0 && momentum <= 1)) throw new Error(`${k}: momentum must be a number in [0, 1]`);
  }
  const backend = args.backend as BackendWithHeap;
  const f = requirePasses(backend, k);
  const outs = [
    backend.makeOutput(x.shape.slice(), 'float32'),
    ...Array.from({ length: moving ? 5 : 3 }, () => backend.makeOutput([C], 'float32')),
  ];
  const tmp = scratch(backend, C);
  try {
    // Views of the heap only after every makeOutput, which may grow (and so move) it.
    const at = (t: tf.TensorInfo) => backend.typedArrayFromHeap(t);
    const [y, meanOut, varOut, invOut] = outs.map(at);
    const tmpF = at(tmp);
    const s = tmpF.byteOffset;
    const sums = new Float64Array(tmpF.buffer, s, 2 * C);
    const g = at(gamma);
    const b = at(beta);
    const xv = at(x);
    f.sums(xv.byteOffset, M, C, s);
    const scaleAt = 4 * C;
    const shiftAt = 5 * C;
    for (let c = 0; c < C; c++) {
      const mean = sums[c] / M;
      // E[x²] − mean² in float64: cancellation costs digits only when mean²/var nears 1e16.
      const variance = Math.max(0, sums[C + c] / M - mean * mean);
      const inv = 1 / Math.sqrt(variance + epsilon);
      meanOut[c] = mean;
      varOut[c] = variance;
      invOut[c] = inv;
      tmpF[scaleAt + c] = g[c] * inv;
      tmpF[shiftAt + c] = b[c] - mean * tmpF[scaleAt + c];
    }
    f.affine(xv.byteOffset, y.byteOffset, M, C, s + 4 * scaleAt, s + 4 * shiftAt);
    if (moving) {
      const decay = 1 - momentum;
      const [oldMean, oldVar] = [movingMean!, movingVariance!].map(at);
      const [newMean, newVar] = outs.slice(4).map(at);
      for (let c = 0; c < C; c++) {
        newMean[c] = oldMean[c] - (oldMean[c] - meanOut[c]) * decay;
        newVar[c] = oldVar[c] - (oldVar[c] - varOut[c]) * decay;
      }
    }
  } finally {
    backend.disposeData(tmp.dataId);
  }
  return outs;
}

/** Inputs dy, x, mean, invStd, gamma; outputs [dx, dgamma, dbeta]. */
function batchNormTrainGrad(args: KernelArgs): tf.TensorInfo[] {
  const k = BATCH_NORM_TRAIN_GRAD;
  const dy = float32(args.inputs.dy, k, 'dy');
  const x = float32(args.inputs.x, k, 'x');
  const [meanT, invT, gammaT] = (['mean', 'invStd', 'gamma'] as const).map((n) => float32(args.inputs[n], k, n));
  const { C, M } = channelsOf(x, k);
  if (!tf.util.arraysEqual(dy.shape, x.shape))
    throw new Error(`${k}: dy [${dy.shape.join(', ')}] and x [${x.shape.join(', ')}] differ`);
  const backend = args.backend as BackendWithHeap;
  const f = requirePasses(backend, k);
  const outs = [
    backend.makeOutput(x.shape.slice(), 'float32'),
    backend.makeOutput([C], 'float32'),
    backend.makeOutput([C], 'float32'),
  ];
  const tmp = scratch(backend, C);
  try {
    const at = (t: tf.TensorInfo) => backend.typedArrayFromHeap(t);
    const [dx, dGamma, dBeta] = outs.map(at);
    const [gv, xv, mean, inv, gamma] = [dy, x, meanT, invT, gammaT].map(at);
    const tmpF = at(tmp);
    const s = tmpF.byteOffset;
    const sums = new Float64Array(tmpF.buffer, s, 2 * C);
    f.gradSums(gv.byteOffset, xv.byteOffset, M, C, s);
    // dx = a·dy + b·x + e per channel, with a = γs, b = −γs³·Σdy·xc/M, e = −γs·Σdy/M − b·mean.
    const [aAt, bAt, eAt] = [4 * C, 5 * C, 6 * C];
    for (let c = 0; c < C; c++) {
      const sv = inv[c];
      const sumDy = sums[c];
      const sumDyXc = sums[C + c] - mean[c] * sumDy;
      const a = gamma[c] * sv;
      const bx = (-a * sv * sv * sumDyXc) / M;
      tmpF[aAt + c] = a;
      tmpF[bAt + c] = bx;
      tmpF[eAt + c] = (-a * sumDy) / M - bx * mean[c];
      dGamma[c] = sumDyXc * sv;
      dBeta[c] = sumDy;
    }
    f.affine2(gv.byteOffset, xv.byteOffset, dx.byteOffset, M, C, s + 4 * aAt, s + 4 * bAt, s + 4 * eAt);
  } finally {
    backend.disposeData(tmp.dataId);
  }
  return outs;
}

/** Inputs dy and x of the same shape; attrs lo and hi. NaN in x gives 0 (tfjs's masks give NaN). */
function maskGrad(args: KernelArgs): tf.TensorInfo {
  const dy = float32(args.inputs.dy, MASK_GRAD, 'dy');
  const x = float32(args.inputs.x, MASK_GRAD, 'x');
  if (!tf.util.arraysEqual(dy.shape, x.shape))
    throw new Error(`${MASK_GRAD}: dy [${dy.shape.join(', ')}] and x [${x.shape.join(', ')}] differ`);
  const { lo, hi } = (args.attrs ?? {}) as { lo?: number; hi?: number };
  if (typeof lo !== 'number' || typeof hi !== 'number' || !(lo <= hi))
    throw new Error(`${MASK_GRAD}: attrs lo <= hi are required`);
  const backend = args.backend as BackendWithHeap;
  const f = requirePasses(backend, MASK_GRAD);
  const out = backend.makeOutput(x.shape.slice(), 'float32');
  const [o, d, v] = [out, dy, x].map((t) => backend.typedArrayFromHeap(t));
  f.maskGrad(d.byteOffset, v.byteOffset, o.byteOffset, v.length, lo, hi);
  return out;
}

/** A stride-1 convolution of a one-channel input: x [N, H, W, 1], dy [N, Ho, Wo, C], filter KH x KW, padding top/left. */
export interface OneChannelConv {
  N: number;
  H: number;
  W: number;
  Ho: number;
  Wo: number;
  C: number;
  KH: number;
  KW: number;
  top: number;
  left: number;
}

/**
 * The filter gradient [KH, KW, 1, C] of a stride-1 convolution with one input channel (a LeNet's
 * first layer) as three passes on the heap: pad x into planes, make dy planar, then one f32x4 dot
 * product per (image, channel, tap) over the output plane. Undefined where the heap cannot be
 * reached or the shape is not one it covers; the caller then keeps the composed kernel.
 */
export function oneChannelFilterGrad(
  backend: unknown,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  s: OneChannelConv,
): tf.TensorInfo | undefined {
  const b = backend as BackendWithHeap;
  const f = heapPasses(b);
  const Hp = s.Ho + s.KH - 1;
  const Wp = s.Wo + s.KW - 1;
  // Input rows or columns past the padded plane are never read by a stride-1 filter of this size.
  if (
    !f ||
    x.dtype !== 'float32' ||
    dy.dtype !== 'float32' ||
    s.top + s.H > Hp ||
    s.left + s.W > Wp ||
    s.top < 0 ||
    s.left < 0
  )
    return undefined;
  const taps = s.KH * s.KW * s.C;
  const out = b.makeOutput([s.KH, s.KW, 1, s.C], 'float32');
  // 2·taps floats of float64 sums first (8-byte aligned like every heap block), then the planes.
  const tmp = b.makeOutput([2 * taps + s.N * Hp * Wp + s.N * s.C * s.Ho * s.Wo], 'float32');
  try {
    const [o, xv, gv, t] = [out, x, dy, tmp].map((i) => b.typedArrayFromHeap(i));
    const acc = t.byteOffset;
    const xp = acc + 8 * taps;
    const gT = xp + 4 * s.N * Hp * Wp;
    f.pad1(xv.byteOffset, xp, s.N, s.H, s.W, Hp, Wp, s.top, s.left);
    f.planar(gv.byteOffset, gT, s.N, s.Ho * s.Wo, s.C);
    f.filterGradC1(xp, gT, acc, o.byteOffset, s.N, Hp, Wp, s.Ho, s.Wo, s.C, s.KH, s.KW);
  } finally {
    b.disposeData(tmp.dataId);
  }
  return out;
}

/** dy masked to lo < x <= hi with one kernel where the backend has it; undefined where it has not. */
export function maskedGradient(dy: tf.Tensor, x: tf.Tensor, lo: number, hi: number): tf.Tensor | undefined {
  if (dy.dtype !== 'float32' || x.dtype !== 'float32' || tf.getKernel(MASK_GRAD, tf.getBackend()) == null)
    return undefined;
  return tf.engine().runKernel(MASK_GRAD, { dy, x }, { lo, hi }) as tf.Tensor;
}

const gradient: tf.GradConfig = {
  kernelName: BATCH_NORM_TRAIN,
  inputsToSave: ['x', 'gamma'],
  outputsToSave: [false, true, false, true],
  gradFunc: (dys, saved) => {
    // Only y is differentiated through; the batch statistics feed the moving averages, not the loss.
    const dy = (Array.isArray(dys) ? dys[0] : dys) as tf.Tensor;
    const [x, gamma, mean, invStd] = saved;
    // One kernel gives all three, so it runs here rather than in the closures: the tape calls each
    // closure in its own tidy, which would dispose the two parts that closure does not return.
    // Parts nobody asks for are disposed with the rest of the backward pass.
    const [dx, dGamma, dBeta] = tf
      .engine()
      .runKernel(BATCH_NORM_TRAIN_GRAD, { dy, x, mean, invStd, gamma }) as tf.Tensor[];
    // The moving statistics (when given) are layer state, not on any path to the loss.
    return {
      x: () => dx,
      gamma: () => dGamma,
      beta: () => dBeta,
      movingMean: () => tf.zerosLike(mean),
      movingVariance: () => tf.zerosLike(mean),
    };
  },
};

let registered = false;

/**
 * Registers the three kernels on the wasm backend (after it has been initialised) and the forward
 * kernel's gradient. Idempotent. Nothing is registered where the heap cannot be reached or the
 * engine has no WebAssembly SIMD; batch normalisation and the masks then keep their composed paths.
 */
export function registerHeapKernels(): void {
  if (registered) return;
  registered = true;
  if (!heapPasses(tf.findBackend('wasm'))) return;
  tf.registerKernel({
    kernelName: BATCH_NORM_TRAIN,
    backendName: 'wasm',
    kernelFunc: batchNormTrain as unknown as tf.KernelFunc,
  });
  tf.registerKernel({
    kernelName: BATCH_NORM_TRAIN_GRAD,
    backendName: 'wasm',
    kernelFunc: batchNormTrainGrad as unknown as tf.KernelFunc,
  });
  tf.registerKernel({ kernelName: MASK_GRAD, backendName: 'wasm', kernelFunc: maskGrad as unknown as tf.KernelFunc });
  if (tf.getGradient(BATCH_NORM_TRAIN) == null) tf.registerGradient(gradient);
}

/** Whether the current backend has the fused training kernels for `channels` channels (a multiple of 4). */
export function hasBatchNormKernels(channels: number): boolean {
  return channels % 4 === 0 && tf.getKernel(BATCH_NORM_TRAIN, tf.getBackend()) != null;
}
