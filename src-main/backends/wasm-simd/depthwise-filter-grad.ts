/**
 * The depthwise convolution's filter gradient as one hand-written WebAssembly SIMD loop
 * (depthwise-filter-grad.wat), used by the wasm backend's DepthwiseConv2dNativeBackpropFilter
 * kernel. tfjs-backend-wasm has no native kernel for it; composed from tfjs ops (a depthwise
 * convolution over N·C channels with dy as a big dilated filter) it cost about a quarter of a
 * MobileNet-tiny training step. On MobileNet-tiny's four shapes this loop measured 3–8x faster than
 * that composition, copies included (docs/results/training-speed/, sixth session).
 *
 * The module has its own memory: x and dy are copied in, the KH·KW·C result copied out. That memory
 * grows to the largest call made and is kept for the next one (a few MB for these students).
 */
import { WASM_BASE64 } from './depthwise-filter-grad.bytes.ts';

type KernelFn = (
  x: number, dy: number, out: number, N: number, H: number, W: number, C: number,
  Ho: number, Wo: number, sh: number, sw: number, pt: number, pl: number, KH: number, KW: number,
) => void;

let kernel: { memory: WebAssembly.Memory; run: KernelFn } | null | undefined;

function load(): { memory: WebAssembly.Memory; run: KernelFn } | null {
  if (kernel !== undefined) return kernel;
  try {
    // 453 bytes: compiling synchronously is cheaper than making every caller async.
    const instance = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(WASM_BASE64, 'base64')), {});
    kernel = { memory: instance.exports.memory as WebAssembly.Memory, run: instance.exports.depthwiseFilterGrad as KernelFn };
  } catch {
    // An engine without WebAssembly SIMD: the caller keeps its composed kernel.
    kernel = null;
  }
  return kernel;
}

export interface DepthwiseFilterGradShape {
  N: number; H: number; W: number; C: number;
  /** dy's spatial size, the convolution's output. */
  Ho: number; Wo: number;
  strideH: number; strideW: number;
  padTop: number; padLeft: number;
  KH: number; KW: number;
}

/** Whether the SIMD kernel can compute this case: channel multiplier 1, C a multiple of 4, SIMD available. */
export function simdDepthwiseFilterGradFits(channels: number, multiplier: number): boolean {
  return multiplier === 1 && channels % 4 === 0 && channels > 0 && load() !== null;
}

/**
 * dW[ky, kx, c] = Σ_{n, oy, ox} x[n, oy·sh − padTop + ky, ox·sw − padLeft + kx, c] · dy[n, oy, ox, c]
 * (taps in the padding contribute nothing), written into `out` ([KH, KW, C]). Call only when
 * simdDepthwiseFilterGradFits(C, 1) holds.
 */
export function depthwiseFilterGradSimd(x: Float32Array, dy: Float32Array, s: DepthwiseFilterGradShape, out: Float32Array): void {
  const k = load();
  if (!k || s.C % 4 !== 0) throw new Error('depthwiseFilterGradSimd: needs WebAssembly SIMD and a channel count that is a multiple of 4');
  if (x.length !== s.N * s.H * s.W * s.C || dy.length !== s.N * s.Ho * s.Wo * s.C || out.length !== s.KH * s.KW * s.C) {
    throw new Error('depthwiseFilterGradSimd: array sizes do not match the shape');
  }
  const xAt = 0;
  const dyAt = x.byteLength;
  const outAt = dyAt + dy.byteLength;
  const need = outAt + out.byteLength;
  if (need > 2 ** 31) throw new Error(`depthwiseFilterGradSimd: ${need} bytes of input is more than the kernel addresses`);
  const have = k.memory.buffer.byteLength;
  if (need > have) k.memory.grow(Math.ceil((need - have) / 65536));
  const heap = new Float32Array(k.memory.buffer);
  heap.set(x, xAt / 4);
  heap.set(dy, dyAt / 4);
  k.run(xAt, dyAt, outAt, s.N, s.H, s.W, s.C, s.Ho, s.Wo, s.strideH, s.strideW, s.padTop, s.padLeft, s.KH, s.KW);
  out.set(new Float32Array(k.memory.buffer, outAt, out.length));
}
