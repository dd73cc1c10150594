import * as tf from '@tensorflow/tfjs';
import { argmaxRows } from '../teachers/responses.ts';

/** Inference-mode logits for `count` NHWC images, in chunks to bound memory. */
export function predictLogits(
  model: tf.LayersModel,
  images: Float32Array,
  count: number,
  dims: { height: number; width: number; channels: number },
  chunk = 500,
): Float32Array {
  const per = dims.height * dims.width * dims.channels;
  let out: Float32Array | undefined;
  for (let start = 0; start < count; start += chunk) {
    const n = Math.min(chunk, count - start);
    const logits = tf.tidy(() => {
      const x = tf.tensor4d(images.subarray(start * per, (start + n) * per), [n, dims.height, dims.width, dims.channels]);
      return model.predict(x) as tf.Tensor;
    });
    const values = logits.dataSync() as Float32Array;
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

export function predictClasses(
  model: tf.LayersModel,
  images: Float32Array,
  count: number,
  dims: { height: number; width: number; channels: number },
): Int32Array {
  const logits = predictLogits(model, images, count, dims);
  return argmaxRows(logits, logits.length / count);
}
