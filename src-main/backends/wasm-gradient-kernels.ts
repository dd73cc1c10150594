/**
 * Gradient kernels that @tensorflow/tfjs-backend-wasm (4.22) does not ship, so that
 * convnets can be trained on the wasm backend instead of the far slower pure-JS cpu one.
 *
 * Each kernel is rewritten as a forward convolution (conv2d / depthwiseConv2d), plus
 * transposes, reshapes and pads, all of which wasm runs natively in XNNPACK/C++. We avoid
 * slice/stridedSlice on large tensors because the wasm backend implements those in JS
 * (copying through the heap); the only slices left act on filter-sized results, or on dx in
 * rare cases (explicit padding wider than the filter, or a depthwise filter smaller than its stride).
 *
 * Only the NHWC layout with dilation 1 needs to work: that is all tfjs-core's gradients of
 * Conv2D and DepthwiseConv2dNative ever request (they assert dilation 1 themselves).
 */
import * as tf from '@tensorflow/tfjs';
import { oneChannelFilterGrad } from './heap-kernels.ts';
import type { WasmBackendLike } from './wasm-backend-like.ts';
import {
  depthwiseFilterGradSimd,
  depthwiseInputGradSimd,
  simdDepthwiseBytes,
  simdDepthwiseGradsFit,
  type DepthwiseShape,
} from './wasm-simd/depthwise-grads.ts';

const BACKEND = 'wasm';

type Pad = tf.Conv2DBackpropFilterAttrs['pad'];
type Explicit4 = [[number, number], [number, number], [number, number], [number, number]];

/**
 * Kernel inputs are TensorInfos; to compose them with tf ops we need Tensors. A Reshape is a
 * zero-copy alias on wasm that also bumps the data's refcount, so disposing the alias inside
 * tidy() cannot free the caller's buffer. With a `shape`, the alias also takes that shape.
 */
export function asTensor(info: tf.TensorInfo, shape?: number[]): tf.Tensor {
  if (info instanceof tf.Tensor && shape == null) return info;
  return tf.engine().runKernel(tf.Reshape, { x: info as tf.Tensor }, { shape: shape ?? info.shape }) as tf.Tensor;
}

function input(inputs: tf.NamedTensorInfoMap, name: string, kernel: string): tf.TensorInfo {
  const t = inputs[name];
  if (t == null) throw new Error(`${kernel} (wasm gradient kernel): missing input '${name}'`);
  return t;
}

function pair(v: number | [number, number] | undefined, fallback: number): [number, number] {
  if (v == null) return [fallback, fallback];
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

function requireUnitDilation(kernel: string, dilations: number | [number, number] | undefined): void {
  const [dh, dw] = pair(dilations, 1);
  if (dh !== 1 || dw !== 1) {
    throw new Error(`${kernel} (wasm gradient kernel): dilations other than 1 are not supported, got [${dh}, ${dw}]`);
  }
}

/** Crop a tensor's spatial dims (1 and 2) to [top, top+h) x [left, left+w) unless it already fits. */
function cropHW(t: tf.Tensor4D, top: number, left: number, h: number, w: number): tf.Tensor4D {
  if (top === 0 && left === 0 && t.shape[1] === h && t.shape[2] === w) return t;
  return tf.slice(t, [0, top, left, 0], [-1, h, w, -1]);
}

/**
 * dW[i,j,ci,co] = sum over n,oh,ow of xPadded[n, oh*s + i, ow*s + j, ci] * dy[n,oh,ow,co].
 * Read with batch and channels swapped this is an ordinary convolution: the input is x as
 * [Cin, H, W, N], the "filter" is dy as [dyH, dyW, N, Cout], and the stride becomes a dilation.
 * The (small) result comes out as [Cin, fh, fw, Cout]. A 1x1, stride-1 filter is a plain matrix product.
 */
function conv2DBackpropFilter(args: {
  inputs: tf.NamedTensorInfoMap;
  backend?: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const x = input(args.inputs, 'x', tf.Conv2DBackpropFilter);
  const dy = input(args.inputs, 'dy', tf.Conv2DBackpropFilter);
  const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  if (attrs.dataFormat !== 'NCHW' && x.shape[3] === 1 && x.shape.length === 4) {
    // One input channel at stride 1 (a LeNet's first layer): WebAssembly passes on the heap, where
    // the composed convolution below has a whole image batch as its filter.
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      attrs.filterShape,
      attrs.strides,
      1,
      attrs.pad as Pad,
      attrs.dimRoundingMode,
      false,
      'channelsLast',
    );
    if (info.strideHeight === 1 && info.strideWidth === 1 && info.dilationHeight === 1 && info.dilationWidth === 1) {
      const [n, h, w] = x.shape;
      const out = oneChannelFilterGrad(args.backend, x, dy, {
        N: n,
        H: h,
        W: w,
        Ho: dy.shape[1],
        Wo: dy.shape[2],
        C: dy.shape[3],
        KH: info.filterHeight,
        KW: info.filterWidth,
        top: info.padInfo.top,
        left: info.padInfo.left,
      });
      if (out) return out;
    }
  }
  return tf.tidy(() => {
    let x4 = asTensor(x) as tf.Tensor4D;
    let dy4 = asTensor(dy) as tf.Tensor4D;
    if (attrs.dataFormat === 'NCHW') {
      x4 = tf.transpose(x4, [0, 2, 3, 1]);
      dy4 = tf.transpose(dy4, [0, 2, 3, 1]);
    }
    const [fh, fw] = attrs.filterShape;
    const info = tf.backend_util.computeConv2DInfo(
      x4.shape,
      attrs.filterShape,
      attrs.strides,
      1,
      attrs.pad as Pad,
      attrs.dimRoundingMode,
      false,
      'channelsLast',
    );
    const [n, h, w, cin] = x4.shape;
    const [, dyH, dyW, cout] = dy4.shape;
    const top = info.padInfo.top;
    const left = info.padInfo.left;
    if (
      fh === 1 &&
      fw === 1 &&
      info.strideHeight === 1 &&
      info.strideWidth === 1 &&
      top === 0 &&
      left === 0 &&
      dyH === h &&
      dyW === w
    ) {
      // A pointwise convolution: dW = Xᵀ·dY over the N·H·W pixels, one matrix product (3–6x faster
      // than the convolution below on MobileNet-tiny's pointwise layers).
      const rows = n * h * w;
      const g = tf.matMul(
        tf.reshape(x4, [rows, cin]) as tf.Tensor2D,
        tf.reshape(dy4, [rows, cout]) as tf.Tensor2D,
        true,
        false,
      );
      return tf.reshape(g, [1, 1, cin, cout]);
    }
    // Rows/cols of padded input the correlation touches; anything past the real input is zero
    // padding (this also covers 'ceil' rounding, where dy reaches beyond the input).
    const bottom = Math.max(0, fh + (dyH - 1) * info.strideHeight - top - h);
    const right = Math.max(0, fw + (dyW - 1) * info.strideWidth - left - w);
    const xT = tf.transpose(x4, [3, 1, 2, 0]);
    const dyT = tf.transpose(dy4, [1, 2, 0, 3]);
    const pads: Explicit4 = [
      [0, 0],
      [top, bottom],
      [left, right],
      [0, 0],
    ];
    const g = tf.conv2d(xT, dyT, 1, pads, 'NHWC', [info.strideHeight, info.strideWidth]);
    // With 'valid' padding and stride > 1 the input can hold up to stride-1 rows that no output
    // used; they show up as extra filter rows here.
    return tf.transpose(cropHW(g, 0, 0, fh, fw), [1, 2, 0, 3]);
  });
}

/** Pick where to put each dy sample inside its stride-sized cell of zeros (see dilateDy). */
function placeInCell(stride: number, lead: number, trail: number): number {
  // Zeros before the first sample come from `offset` plus conv padding `lead - offset`, zeros after
  // the last from `stride-1-offset` plus `trail - (stride-1-offset)`; both paddings must be >= 0
  // for the convolution to need no crop afterwards.
  const lo = Math.max(0, stride - 1 - trail);
  const hi = Math.min(stride - 1, lead);
  return lo <= hi ? lo : Math.min(stride - 1, Math.max(0, lead));
}

/**
 * Spread dy out to the input's sampling grid (stride-1 zeros between samples) without a scatter:
 * give each sample its own size-1 axis, zero-pad that axis up to the stride, and fold it back.
 */
function dilateDy(dy: tf.Tensor4D, sH: number, sW: number, offH: number, offW: number): tf.Tensor4D {
  if (sH === 1 && sW === 1) return dy;
  const [n, dyH, dyW, c] = dy.shape;
  const cells = tf.reshape(dy, [n, dyH, 1, dyW, 1, c]);
  const padded = tf.pad(cells, [
    [0, 0],
    [0, 0],
    [offH, sH - 1 - offH],
    [0, 0],
    [offW, sW - 1 - offW],
    [0, 0],
  ]);
  return tf.reshape(padded, [n, dyH * sH, dyW * sW, c]);
}

/**
 * dx is the correlation of the stride-dilated dy with the spatially flipped filter, padded so
 * that output row h lines up with input row h. For a regular convolution the flipped filter also
 * swaps its in and out channels; for a depthwise one a channel multiplier m > 1 means every input
 * channel fed m outputs, so those m partial results are summed.
 */
function backpropInputViaConv(
  dy4: tf.Tensor4D,
  f4: tf.Tensor4D,
  inputShape: [number, number, number, number],
  strides: number | [number, number],
  pad: Pad,
  dimRoundingMode: 'floor' | 'round' | 'ceil' | undefined,
  depthwise: boolean,
): tf.Tensor4D {
  const [n, h, w, c] = inputShape;
  const [fh, fw, , m] = f4.shape;
  const info = tf.backend_util.computeConv2DInfo(
    inputShape,
    f4.shape,
    strides,
    1,
    pad,
    dimRoundingMode,
    depthwise,
    'channelsLast',
  );
  const sH = info.strideHeight;
  const sW = info.strideWidth;
  const [, dyH, dyW] = dy4.shape;
  // Zeros needed before the first and after the last dy sample along each axis.
  const leadH = fh - 1 - info.padInfo.top;
  const trailH = h + info.padInfo.top - (dyH - 1) * sH - 1;
  const leadW = fw - 1 - info.padInfo.left;
  const trailW = w + info.padInfo.left - (dyW - 1) * sW - 1;
  const offH = placeInCell(sH, leadH, trailH);
  const offW = placeInCell(sW, leadW, trailW);
  const before = [leadH - offH, leadW - offW];
  const after = [trailH - (sH - 1 - offH), trailW - (sW - 1 - offW)];
  const pads: Explicit4 = [
    [0, 0],
    [Math.max(0, before[0]), Math.max(0, after[0])],
    [Math.max(0, before[1]), Math.max(0, after[1])],
    [0, 0],
  ];
  const spread = dilateDy(dy4, sH, sW, offH, offW);
  const flipped = tf.reverse(f4, [0, 1]);
  let dx = depthwise
    ? tf.depthwiseConv2d(spread, tf.reshape(flipped, [fh, fw, c * m, 1]) as tf.Tensor4D, 1, pads)
    : tf.conv2d(spread, tf.transpose(flipped, [0, 1, 3, 2]) as tf.Tensor4D, 1, pads);
  // Only explicit paddings wider than the filter, or a filter smaller than the stride, need this crop.
  dx = cropHW(dx, Math.max(0, -before[0]), Math.max(0, -before[1]), h, w);
  if (depthwise && m > 1) dx = tf.sum(tf.reshape(dx, [n, h, w, c, m]), 4) as tf.Tensor4D;
  return dx;
}

/**
 * The geometry for the SIMD depthwise gradients (wasm-simd/depthwise-grads.ts), or undefined when they
 * do not apply: channel multiplier other than 1, channels not a multiple of 4, dy not float32, a dy
 * whose size is not the convolution's output size, or tensors too large for the kernels' memory cap.
 */
function simdDepthwiseShape(
  xShape: number[],
  dy: tf.TensorInfo,
  filterShape: number[],
  strides: number | [number, number],
  pad: Pad,
  dimRoundingMode: 'floor' | 'round' | 'ceil' | undefined,
): DepthwiseShape | undefined {
  const [KH, KW, C, m] = filterShape;
  if (dy.dtype !== 'float32' || xShape.length !== 4) return undefined;
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    [KH, KW, C, m],
    strides,
    1,
    pad,
    dimRoundingMode,
    true,
    'channelsLast',
  );
  if (info.outHeight !== dy.shape[1] || info.outWidth !== dy.shape[2] || dy.shape[0] !== xShape[0] || dy.shape[3] !== C)
    return undefined;
  const shape: DepthwiseShape = {
    N: xShape[0],
    H: xShape[1],
    W: xShape[2],
    C,
    Ho: info.outHeight,
    Wo: info.outWidth,
    strideH: info.strideHeight,
    strideW: info.strideWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
    KH,
    KW,
  };
  return simdDepthwiseGradsFit(C, m, simdDepthwiseBytes(shape)) ? shape : undefined;
}

/** Runs one of the SIMD depthwise gradients from the wasm heap into a new output tensor. */
function runSimd(
  backend: WasmBackendLike,
  kernel: (a: Float32Array, dy: Float32Array, s: DepthwiseShape, out: Float32Array) => void,
  a: tf.TensorInfo,
  dy: tf.TensorInfo,
  shape: DepthwiseShape,
  outShape: number[],
): tf.TensorInfo {
  const out = backend.makeOutput(outShape, 'float32');
  // Views of the heap only after makeOutput, which may grow (and so move) it.
  kernel(backend.typedArrayFromHeap(a), backend.typedArrayFromHeap(dy), shape, backend.typedArrayFromHeap(out));
  return out;
}

/**
 * dx of a depthwise convolution: one SIMD loop for a strided convolution with multiplier 1 and C a
 * multiple of 4, otherwise an XNNPACK forward depthwise convolution of the stride-dilated dy with
 * the flipped filter.
 */
function depthwiseBackpropInput(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const dy = input(args.inputs, 'dy', tf.DepthwiseConv2dNativeBackpropInput);
  const filter = input(args.inputs, 'filter', tf.DepthwiseConv2dNativeBackpropInput);
  const attrs = args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
  requireUnitDilation(tf.DepthwiseConv2dNativeBackpropInput, attrs.dilations);
  const shape = simdDepthwiseShape(
    attrs.inputShape,
    dy,
    filter.shape,
    attrs.strides,
    attrs.pad as Pad,
    attrs.dimRoundingMode,
  );
  // At stride 1 XNNPACK's own depthwise convolution was faster than the loop (0.15 against 0.33 ms on
  // 64x14x14x8); at stride 2 the composed path must first spread dy out, and the loop was 2-3x faster.
  if (shape && filter.dtype === 'float32' && (shape.strideH > 1 || shape.strideW > 1)) {
    return runSimd(
      args.backend as WasmBackendLike,
      depthwiseInputGradSimd,
      filter,
      dy,
      shape,
      attrs.inputShape.slice(),
    );
  }
  return tf.tidy(() =>
    backpropInputViaConv(
      asTensor(dy) as tf.Tensor4D,
      asTensor(filter) as tf.Tensor4D,
      attrs.inputShape,
      attrs.strides,
      attrs.pad as Pad,
      attrs.dimRoundingMode,
      true,
    ),
  );
}

/**
 * Replaces wasm's native Conv2DBackpropInput, a plain C loop that measured 3–14x slower than
 * the same result computed as an XNNPACK forward convolution (see scripts/profile-train.ts).
 */
export function conv2DBackpropInput(args: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const dy = input(args.inputs, 'dy', tf.Conv2DBackpropInput);
  const filter = input(args.inputs, 'filter', tf.Conv2DBackpropInput);
  const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
  return tf.tidy(() => {
    let dy4 = asTensor(dy) as tf.Tensor4D;
    const nchw = attrs.dataFormat === 'NCHW';
    let shape = attrs.inputShape;
    if (nchw) {
      dy4 = tf.transpose(dy4, [0, 2, 3, 1]);
      shape = [shape[0], shape[2], shape[3], shape[1]];
    }
    const dx = backpropInputViaConv(
      dy4,
      asTensor(filter) as tf.Tensor4D,
      shape,
      attrs.strides,
      attrs.pad as Pad,
      attrs.dimRoundingMode,
      false,
    );
    return nchw ? tf.transpose(dx, [0, 3, 1, 2]) : dx;
  });
}

/**
 * dW[i,j,c,q] = sum over n,oh,ow of xPadded[n, oh*s+i, ow*s+j, c] * dy[n,oh,ow,c*m+q].
 * With m = 1 and C a multiple of 4 (MobileNet-tiny's layers) one WebAssembly SIMD loop computes it
 * (wasm-simd/depthwise-grads.ts). Otherwise, folding the batch into the channel axis turns this into
 * a single depthwise convolution over N*C channels, with dy as the (stride-dilated) filter and the
 * channel multiplier kept as m; the per-example results are then summed over the batch.
 */
function depthwiseBackpropFilter(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const x = input(args.inputs, 'x', tf.DepthwiseConv2dNativeBackpropFilter);
  const dy = input(args.inputs, 'dy', tf.DepthwiseConv2dNativeBackpropFilter);
  const attrs = args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
  requireUnitDilation(tf.DepthwiseConv2dNativeBackpropFilter, attrs.dilations);
  const [fh, fw, c, m] = attrs.filterShape;
  const shape = simdDepthwiseShape(
    x.shape,
    dy,
    attrs.filterShape,
    attrs.strides,
    attrs.pad as Pad,
    attrs.dimRoundingMode,
  );
  if (shape && x.dtype === 'float32') {
    return runSimd(args.backend as WasmBackendLike, depthwiseFilterGradSimd, x, dy, shape, [fh, fw, c, m]);
  }
  return tf.tidy(() => {
    const x4 = asTensor(x) as tf.Tensor4D;
    const dy4 = asTensor(dy) as tf.Tensor4D;
    const info = tf.backend_util.computeConv2DInfo(
      x4.shape,
      attrs.filterShape,
      attrs.strides,
      1,
      attrs.pad as Pad,
      attrs.dimRoundingMode,
      true,
      'channelsLast',
    );
    const [n, h, w] = x4.shape;
    const [, dyH, dyW] = dy4.shape;
    const top = info.padInfo.top;
    const left = info.padInfo.left;
    const bottom = Math.max(0, fh + (dyH - 1) * info.strideHeight - top - h);
    const right = Math.max(0, fw + (dyW - 1) * info.strideWidth - left - w);
    const xs = tf.reshape(tf.transpose(x4, [1, 2, 0, 3]), [1, h, w, n * c]) as tf.Tensor4D;
    const dys = tf.reshape(tf.transpose(dy4, [1, 2, 0, 3]), [dyH, dyW, n * c, m]) as tf.Tensor4D;
    const pads: Explicit4 = [
      [0, 0],
      [top, bottom],
      [left, right],
      [0, 0],
    ];
    let g = tf.depthwiseConv2d(xs, dys, 1, pads, 'NHWC', [info.strideHeight, info.strideWidth]);
    g = cropHW(g, 0, 0, fh, fw);
    const perExample = tf.reshape(g, [fh, fw, n, c * m]);
    const summed = n > 1 ? tf.sum(perExample, 2) : perExample;
    return tf.reshape(summed, [fh, fw, c, m]);
  });
}

const KERNELS: tf.KernelConfig[] = [
  { kernelName: tf.Conv2DBackpropFilter, backendName: BACKEND, kernelFunc: conv2DBackpropFilter as tf.KernelFunc },
  {
    kernelName: tf.DepthwiseConv2dNativeBackpropInput,
    backendName: BACKEND,
    kernelFunc: depthwiseBackpropInput as tf.KernelFunc,
  },
  {
    kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
    backendName: BACKEND,
    kernelFunc: depthwiseBackpropFilter as tf.KernelFunc,
  },
];

/** Names of the kernels this module provides for the wasm backend. */
export const WASM_GRADIENT_KERNEL_NAMES: readonly string[] = KERNELS.map((k) => k.kernelName);

/**
 * Registers the missing gradient kernels for 'wasm'. Safe to call repeatedly, and it leaves
 * alone any kernel already registered (e.g. a native one in a later tfjs-backend-wasm).
 * Returns the names it registered on this call.
 */
export function registerWasmGradientKernels(): string[] {
  const added: string[] = [];
  for (const config of KERNELS) {
    if (tf.getKernel(config.kernelName, BACKEND) != null) continue;
    tf.registerKernel(config);
    added.push(config.kernelName);
  }
  return added;
}
