import type { Rng } from '../util/rng.ts';

export interface AugmentOptions {
  shift: number;
  flip: boolean;
}

/**
 * Label-preserving augmentation applied in place to an NHWC batch, in plain JS: it costs no
 * teacher queries and no tensor ops (slices run slowly on the wasm backend).
 */
export function augmentBatch(
  batch: Float32Array,
  count: number,
  dims: { height: number; width: number; channels: number },
  opts: AugmentOptions,
  rng: Rng,
  scratch: Float32Array,
): void {
  if (!opts.shift && !opts.flip) return;
  const { height: H, width: W, channels: C } = dims;
  const per = H * W * C;
  for (let n = 0; n < count; n++) {
    const dy = opts.shift ? rng.int(2 * opts.shift + 1) - opts.shift : 0;
    const dx = opts.shift ? rng.int(2 * opts.shift + 1) - opts.shift : 0;
    const flip = opts.flip && rng.next() < 0.5;
    if (!dy && !dx && !flip) continue;
    const img = batch.subarray(n * per, (n + 1) * per);
    scratch.set(img);
    for (let y = 0; y < H; y++) {
      const sy = y - dy;
      for (let x = 0; x < W; x++) {
        const sx0 = x - dx;
        const sx = flip ? W - 1 - sx0 : sx0;
        const inside = sy >= 0 && sy < H && sx >= 0 && sx < W;
        for (let c = 0; c < C; c++) img[(y * W + x) * C + c] = inside ? scratch[(sy * W + sx) * C + c] : 0;
      }
    }
  }
}
