/**
 * The depthwise convolution's two gradients as hand-written WebAssembly SIMD loops
 * (depthwise-grads.wat), used by the wasm backend's DepthwiseConv2dNativeBackpropFilter and
 * DepthwiseConv2dNativeBackpropInput kernels for channel multiplier 1 and channels a multiple of 4.
 * tfjs-backend-wasm has neither kernel. Composed from tfjs ops, the filter gradient (a depthwise
 * convolution over N·C channels with dy as a big dilated filter) cost about a quarter of a
 * MobileNet-tiny training step; on MobileNet-tiny's four shapes this loop measured 3–8x faster,
 * copies included (docs/results/training-speed/, sixth session).
 *
 * The module has its own memory: the inputs are copied in and the result copied out. That memory
 * grows to the largest call made and is kept for the next one (a few MB for the zoo's students);
 * calls that would need more than SIMD_MAX_BYTES are left to the composed kernels, so that a large
 * model does not pin hundreds of MB per thread.
 */
import { WASM_BASE64 } from './depthwise-grads.bytes.ts';

type KernelFn = (
  a: number,
  dy: number,
  out: number,
  N: number,
  H: number,
  W: number,
  C: number,
  Ho: number,
  Wo: number,
  sh: number,
  sw: number,
  pt: number,
  pl: number,
  KH: number,
  KW: number,
) => void;

interface Kernels {
  memory: WebAssembly.Memory;
  filterGrad: KernelFn;
  inputGrad: KernelFn;
}

let kernels: Kernels | null | undefined;

function load(): Kernels | null {
  if (kernels !== undefined) return kernels;
  try {
    // Under 1 kB: compiling synchronously is cheaper than making every caller async.
    const { exports } = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(WASM_BASE64, 'base64')), {});
    kernels = {
      memory: exports.memory as WebAssembly.Memory,
      filterGrad: exports.depthwiseFilterGrad as KernelFn,
      inputGrad: exports.depthwiseInputGrad as KernelFn,
    };
  } catch {
    // An engine without WebAssembly SIMD: the callers keep their composed kernels.
    kernels = null;
  }
  return kernels;
}

/** A depthwise convolution with channel multiplier 1: input [N, H, W, C], filter [KH, KW, C], output [N, Ho, Wo, C]. */
export interface DepthwiseShape {
  N: number;
  H: number;
  W: number;
  C: number;
  Ho: number;
  Wo: number;
  strideH: number;
  strideW: number;
  padTop: number;
  padLeft: number;
  KH: number;
  KW: number;
}

/** The most memory one call may use (inputs and output together). */
export const SIMD_MAX_BYTES = 64 * 2 ** 20;

/** Bytes one call on `s` copies into the module: x (or dx), dy and the filter. */
export function simdDepthwiseBytes(s: DepthwiseShape): number {
  return 4 * (s.N * s.H * s.W * s.C + s.N * s.Ho * s.Wo * s.C + s.KH * s.KW * s.C);
}

/**
 * Whether the SIMD kernels can compute this case: channel multiplier 1, C a multiple of 4, at most
 * SIMD_MAX_BYTES, and WebAssembly SIMD available.
 */
export function simdDepthwiseGradsFit(channels: number, multiplier: number, bytes = 0): boolean {
  return multiplier === 1 && channels % 4 === 0 && channels > 0 && bytes <= SIMD_MAX_BYTES && load() !== null;
}

/** Copies `a` and `dy` into the module, runs the kernel `pick` chooses, copies the result into `out`. */
function call(
  pick: (k: Kernels) => KernelFn,
  a: Float32Array,
  dy: Float32Array,
  s: DepthwiseShape,
  out: Float32Array,
): void {
  const k = load();
  if (!k || s.C % 4 !== 0 || s.C <= 0)
    throw new Error('depthwise SIMD kernels: need WebAssembly SIMD and a channel count that is a multiple of 4');
  const aAt = 0;
  const dyAt = a.byteLength;
  const outAt = dyAt + dy.byteLength;
  const need = outAt + out.byteLength;
  if (need > 2 ** 31)
    throw new Error(`depthwise SIMD kernels: ${need} bytes of input and output is more than the kernels address`);
  const have = k.memory.buffer.byteLength;
  if (need > have) k.memory.grow(Math.ceil((need - have) / 65536));
  const heap = new Float32Array(k.memory.buffer);
  heap.set(a, aAt / 4);
  heap.set(dy, dyAt / 4);
  pick(k)(aAt, dyAt, outAt, s.N, s.H, s.W, s.C, s.Ho, s.Wo, s.strideH, s.strideW, s.padTop, s.padLeft, s.KH, s.KW);
  out.set(new Float32Array(k.memory.buffer, outAt, out.length));
}

function checkSizes(what: string, got: number[], want: number[]): void {
  if (got.some((v, i) => v !== want[i]))
    throw new Error(
      `depthwise SIMD kernels: ${what} sizes ${got.join(', ')} do not match the shape (${want.join(', ')})`,
    );
}

/**
 * dW[ky, kx, c] = Σ_{n, oy, ox} x[n, oy·sh − padTop + ky, ox·sw − padLeft + kx, c] · dy[n, oy, ox, c],
 * written into `out` ([KH, KW, C]). Call only when simdDepthwiseGradsFit(C, 1) holds.
 */
export function depthwiseFilterGradSimd(x: Float32Array, dy: Float32Array, s: DepthwiseShape, out: Float32Array): void {
  checkSizes(
    'filter gradient',
    [x.length, dy.length, out.length],
    [s.N * s.H * s.W * s.C, s.N * s.Ho * s.Wo * s.C, s.KH * s.KW * s.C],
  );
  call((k) => k.filterGrad, x, dy, s, out);
}

/**
 * dx[n, iy, ix, c] = Σ dy[n, oy, ox, c] · W[ky, kx, c] over iy = oy·sh − padTop + ky, ix = ox·sw − padLeft + kx,
 * written into `out` ([N, H, W, C]). Call only when simdDepthwiseGradsFit(C, 1) holds.
 */
export function depthwiseInputGradSimd(
  filter: Float32Array,
  dy: Float32Array,
  s: DepthwiseShape,
  out: Float32Array,
): void {
  checkSizes(
    'input gradient',
    [filter.length, dy.length, out.length],
    [s.KH * s.KW * s.C, s.N * s.Ho * s.Wo * s.C, s.N * s.H * s.W * s.C],
  );
  call((k) => k.inputGrad, filter, dy, s, out);
}
