import * as tf from '@tensorflow/tfjs';
import { argmaxRows } from '../teachers/responses.ts';

/**
 * Copies every weight of `model` to host memory ahead of synchronous code that reads them (the
 * ONNX exporter). The WebGPU backend cannot read synchronously in Node (its readSync draws through
 * an OffscreenCanvas, which Node lacks), but it keeps what an asynchronous read fetched, so later
 * synchronous reads of the same tensors are served from that copy. Costs nothing on CPU backends.
 */
export async function cacheWeightsOnHost(model: tf.LayersModel): Promise<void> {
  await Promise.all(model.weights.map((w) => w.read().data()));
}

/**
 * Inference-mode logits for `count` NHWC images, in chunks to bound memory. Reads asynchronously,
 * which every backend supports (WebGPU in Node has no synchronous read).
 */
export async function predictLogits(
  model: tf.LayersModel,
  images: Float32Array,
  count: number,
  dims: { height: number; width: number; channels: number },
  chunk = 500,
): Promise<Float32Array> {
  const per = dims.height * dims.width * dims.channels;
  let out: Float32Array | undefined;
  for (let start = 0; start < count; start += chunk) {
    const n = Math.min(chunk, count - start);
    const logits = tf.tidy(() => {
      const x = tf.tensor4d(images.subarray(start * per, (start + n) * per), [n, dims.height, dims.width, dims.channels]);
      return model.predict(x) as tf.Tensor;
    });
    const values = (await logits.data()) as Float32Array;
    logits.dispose();
    const C = values.length / n;
    out ??= new Float32Array(count * C);
    out.set(values, start * C);
  }
  return out ?? new Float32Array(0);
}

/** Fraction of rows whose prediction equals `reference` (accuracy vs labels, fidelity vs teacher). */
export function agreement(predicted: Int32Array, reference: Int32Array): number {
  if (predicted.length !== reference.length) throw new RangeError('length mismatch');
  let same = 0;
  let counted = 0;
  for (let i = 0; i < predicted.length; i++) {
    if (reference[i] < 0) continue;
    counted++;
    if (predicted[i] === reference[i]) same++;
  }
  return counted ? same / counted : NaN;
}

export async function predictClasses(
  model: tf.LayersModel,
  images: Float32Array,
  count: number,
  dims: { height: number; width: number; channels: number },
): Promise<Int32Array> {
  const logits = await predictLogits(model, images, count, dims);
  return argmaxRows(logits, logits.length / count);
}
