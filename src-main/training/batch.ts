/** Batch assembly shared by the one-thread trainer and the data-parallel workers. */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../util/rng.ts';
import { augmentBatch, type AugmentOptions } from './augment.ts';
import type { BatchHook } from './step-registry.ts';

/**
 * Copies rows order[from], …, order[from + n − 1] of `images` (per values each) and `targets`
 * (C values each) to the front of xBuf and yBuf. Done in JS: tfjs's gather and slice kernels
 * run in JS on wasm anyway, and this avoids a tensor per batch.
 */
export function gatherRows(
  images: Float32Array,
  targets: Float32Array,
  per: number,
  C: number,
  order: Int32Array,
  from: number,
  n: number,
  xBuf: Float32Array,
  yBuf: Float32Array,
): void {
  for (let i = 0; i < n; i++) {
    const src = order[from + i];
    xBuf.set(images.subarray(src * per, (src + 1) * per), i * per);
    yBuf.set(targets.subarray(src * C, (src + 1) * C), i * C);
  }
}

/** What a training batch is made from. */
export interface BatchSource {
  images: Float32Array;
  targets: Float32Array;
  dims: { height: number; width: number; channels: number };
  /** Values per target row. */
  C: number;
  augment: AugmentOptions;
  hook?: BatchHook;
}

/**
 * Builds batches of up to `rows` rows the way every training step takes them: gathered in the
 * epoch's order, augmented, then passed through the batch hook, with the same RNG draws wherever
 * it runs.
 */
export class BatchAssembler {
  readonly per: number;
  private readonly xBuf: Float32Array;
  private readonly yBuf: Float32Array;
  private readonly scratch: Float32Array;

  constructor(
    private readonly src: BatchSource,
    rows: number,
  ) {
    const { height, width, channels } = src.dims;
    this.per = height * width * channels;
    this.xBuf = new Float32Array(rows * this.per);
    this.yBuf = new Float32Array(rows * src.C);
    this.scratch = new Float32Array(this.per);
  }

  /** Rows order[from … from + n) as image and target tensors, which the caller disposes. */
  assemble(order: Int32Array, from: number, n: number, rng: Rng): { x: tf.Tensor4D; y: tf.Tensor2D } {
    const { src, per, xBuf, yBuf } = this;
    const { dims, C } = src;
    gatherRows(src.images, src.targets, per, C, order, from, n, xBuf, yBuf);
    augmentBatch(xBuf, n, dims, src.augment, rng, this.scratch);
    src.hook?.(xBuf, yBuf, n, rng);
    const x = tf.tensor4d(xBuf.subarray(0, n * per), [n, dims.height, dims.width, dims.channels]);
    const y = tf.tensor2d(yBuf.subarray(0, n * C), [n, C]);
    return { x, y };
  }
}
