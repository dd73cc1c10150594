/** Batch assembly shared by the one-thread trainer and the data-parallel workers. */

/**
 * Copies rows order[from], …, order[from + n − 1] of `images` (per values each) and `targets`
 * (C values each) to the front of xBuf and yBuf. Done in JS: tfjs's gather and slice kernels
 * run in JS on wasm anyway, and this avoids a tensor per batch.
 */
export function gatherRows(
  images: Float32Array, targets: Float32Array, per: number, C: number,
  order: Int32Array, from: number, n: number, xBuf: Float32Array, yBuf: Float32Array,
): void {
  for (let i = 0; i < n; i++) {
    const src = order[from + i];
    xBuf.set(images.subarray(src * per, (src + 1) * per), i * per);
    yBuf.set(targets.subarray(src * C, (src + 1) * C), i * C);
  }
}
