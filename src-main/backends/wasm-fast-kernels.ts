/**
 * Replacements for native wasm kernels that training leans on and that tfjs-backend-wasm 4.22
 * implements slowly. Each was measured against its replacement with the shapes of the zoo
 * students (`scripts/profile-train.ts` for whole steps); figures are µs on this 2-core machine:
 *
 *   kernel                          native   replacement
 *   BatchMatMul, a transposed (200x64·64x120)   958   ~125  explicit Transpose, then the plain product
 *   Conv2DBackpropInput, 1x1 16→32 @14        4,749    337  XNNPACK forward conv of the flipped filter
 *   Conv2DBackpropInput, LeNet conv2           2,964  1,052  same
 *   Sum over N,H,W of 64x14x14x32              616    ~40  one average pooling over all N·H·W rows
 *   MaxPoolGrad 2x2/2 on 64x28x28x3           2,262   ~470  one JS pass over the wasm heap
 *   Identity                                  a full copy   an alias (shared buffer, refcount bumped)
 *
 * Identity matters because tfjs clones every tensor a gradient needs while recording the tape
 * (engine.saveTensorsForBackwardMode), which on wasm copied each saved activation: about 180
 * copies per MobileNet-tiny step. The cpu and WebGL backends already alias here, as wasm's own
 * Reshape does; tensors are immutable, so sharing the buffer is safe.
 *
 * Every replacement computes the same values (up to float summation order) and keeps tfjs's
 * semantics, e.g. MaxPoolGrad routes each gradient to the first maximum of its window.
 */
import * as tf from '@tensorflow/tfjs';
import { asTensor, conv2DBackpropInput } from './wasm-gradient-kernels.ts';
import type { WasmBackendLike } from './wasm-backend-like.ts';

const BACKEND = 'wasm';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };
type Kernel = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

function run(kernel: Kernel, args: KernelArgs): tf.TensorInfo {
  return kernel(args) as tf.TensorInfo;
}

/** The native product is fast only untransposed; a transpose costs a few µs at these sizes. */
function batchMatMul(native: Kernel): Kernel {
  return (args) => {
    const { transposeA, transposeB } = args.attrs as unknown as tf.BatchMatMulAttrs;
    if (!transposeA && !transposeB) return run(native, args);
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    return tf.tidy(() => {
      const swap = (t: tf.TensorInfo): tf.Tensor => {
        const r = t.shape.length;
        const perm = [...Array(r).keys()];
        [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
        return tf.transpose(asTensor(t), perm);
      };
      const a2 = transposeA ? swap(a) : asTensor(a);
      const b2 = transposeB ? swap(b) : asTensor(b);
      return tf
        .engine()
        .runKernel(tf.BatchMatMul, { a: a2, b: b2 }, { transposeA: false, transposeB: false }) as tf.Tensor;
    });
  };
}

/** Below this many rows the native reduction is as fast as building the product. */
const MIN_ROWS_FOR_POOLED_SUM = 256;

/** True when `axes` are exactly the leading axes 0..rank-2 (a per-channel reduction). */
function leadingAxes(axis: number | number[], rank: number): boolean {
  const axes = tf.util
    .parseAxisParam(axis, [...Array(rank).fill(1)] as number[])
    .slice()
    .sort((p, q) => p - q);
  return rank >= 2 && axes.length === rank - 1 && axes.every((v, i) => v === i);
}

/**
 * Sum (or mean) over all axes but the last, as one average pooling whose window covers every
 * row. XNNPACK caches pooling operators by shape (they have no weights), whereas a matrix
 * product with the activation as one factor repacks that activation on every call.
 */
function channelReduce(native: Kernel, mean: boolean): Kernel {
  return (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { axis, keepDims } = args.attrs as unknown as tf.SumAttrs;
    const rank = x.shape.length;
    if (x.dtype !== 'float32' || !leadingAxes(axis, rank)) return run(native, args);
    const channels = x.shape[rank - 1];
    const rows = tf.util.sizeFromShape(x.shape) / channels;
    if (rows < MIN_ROWS_FOR_POOLED_SUM) return run(native, args);
    return tf.tidy(() => {
      const avg = tf.avgPool(asTensor(x, [1, rows, 1, channels]) as tf.Tensor4D, [rows, 1], 1, 'valid');
      const r = mean ? avg : tf.mul(avg, rows);
      return tf.reshape(r, keepDims ? [...Array(rank - 1).fill(1), channels] : [channels]);
    });
  };
}

/**
 * dx of max pooling: each output's gradient goes to the first maximum of its window (row-major
 * scan), as TensorFlow's MaxPoolGrad does. Works on the heap directly, one pass over the outputs.
 */
function maxPoolGrad(args: KernelArgs): tf.TensorInfo {
  const { dy, input } = args.inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
  const attrs = args.attrs as unknown as tf.MaxPoolGradAttrs;
  if (input.dtype !== 'float32' || dy.dtype !== 'float32')
    throw new Error('MaxPoolGrad (wasm): expected float32 tensors');
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const backend = args.backend as WasmBackendLike;
  const out = backend.makeOutput(input.shape.slice(), 'float32');
  const dx = backend.typedArrayFromHeap(out);
  const x = backend.typedArrayFromHeap(input);
  const g = backend.typedArrayFromHeap(dy);
  dx.fill(0);
  const {
    batchSize: N,
    inHeight: H,
    inWidth: W,
    inChannels: C,
    outHeight: Ho,
    outWidth: Wo,
    strideHeight: sH,
    strideWidth: sW,
  } = info;
  const fH = info.effectiveFilterHeight;
  const fW = info.effectiveFilterWidth;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  if (fH === 2 && fW === 2 && sH === 2 && sW === 2 && top === 0 && left === 0 && 2 * Ho <= H && 2 * Wo <= W) {
    maxPoolGrad2x2(x, g, dx, N, H, W, C, Ho, Wo);
    return out;
  }
  let o = 0;
  for (let n = 0; n < N; n++) {
    const nBase = n * H * W * C;
    for (let oh = 0; oh < Ho; oh++) {
      const h0 = oh * sH - top;
      const hLo = Math.max(0, h0);
      const hHi = Math.min(H, h0 + fH);
      for (let ow = 0; ow < Wo; ow++) {
        const w0 = ow * sW - left;
        const wLo = Math.max(0, w0);
        const wHi = Math.min(W, w0 + fW);
        for (let c = 0; c < C; c++, o++) {
          let best = -1;
          let bestV = -Infinity;
          for (let h = hLo; h < hHi; h++) {
            let p = nBase + (h * W + wLo) * C + c;
            for (let w = wLo; w < wHi; w++, p += C) {
              const v = x[p];
              // NaN wins, as in TensorFlow, so a NaN input is not silently skipped.
              if (v > bestV || (best < 0 && v === bestV) || (v !== v && bestV === bestV)) {
                bestV = v;
                best = p;
              }
            }
          }
          if (best >= 0) dx[best] += g[o];
        }
      }
    }
  }
  return out;
}

/**
 * MaxPoolGrad for the common 2x2, stride 2, unpadded window that lies inside the input: the same
 * rule as the general loop (first maximum in row-major window order wins, a NaN beats any number)
 * with the four candidates unrolled, about 4x faster on LeNet's pools.
 */
function maxPoolGrad2x2(
  x: Float32Array,
  g: Float32Array,
  dx: Float32Array,
  N: number,
  H: number,
  W: number,
  C: number,
  Ho: number,
  Wo: number,
): void {
  const row = W * C;
  let o = 0;
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < Ho; oh++) {
      let p = (n * H + 2 * oh) * row;
      for (let ow = 0; ow < Wo; ow++, p += 2 * C) {
        for (let c = 0; c < C; c++, o++) {
          const p0 = p + c;
          let best = p0;
          let bestV = x[p0];
          let q = p0 + C;
          let v = x[q];
          if (v > bestV || (v !== v && bestV === bestV)) {
            bestV = v;
            best = q;
          }
          q = p0 + row;
          v = x[q];
          if (v > bestV || (v !== v && bestV === bestV)) {
            bestV = v;
            best = q;
          }
          q += C;
          v = x[q];
          if (v > bestV || (v !== v && bestV === bestV)) best = q;
          dx[best] += g[o];
        }
      }
    }
  }
}

function identity(native: Kernel): Kernel {
  return (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (x.dtype === 'string') return run(native, args);
    (args.backend as WasmBackendLike).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
  };
}

let registered = false;

/** Swaps in the replacements on the wasm backend (after it has been initialised). Idempotent. */
export function registerWasmFastKernels(): void {
  if (registered) return;
  registered = true;
  const replace = (kernelName: string, make: (native: Kernel) => Kernel) => {
    const native = tf.getKernel(kernelName, BACKEND);
    if (native == null) return;
    tf.unregisterKernel(kernelName, BACKEND);
    tf.registerKernel({
      kernelName,
      backendName: BACKEND,
      kernelFunc: make(native.kernelFunc as unknown as Kernel) as unknown as tf.KernelFunc,
    });
  };
  replace(tf.BatchMatMul, batchMatMul);
  replace(tf.Sum, (native) => channelReduce(native, false));
  replace(tf.Mean, (native) => channelReduce(native, true));
  replace(tf.Conv2DBackpropInput, () => conv2DBackpropInput as unknown as Kernel);
  replace(tf.MaxPoolGrad, () => maxPoolGrad);
  replace(tf.Identity, identity);
}
