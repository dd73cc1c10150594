import * as tf from '@tensorflow/tfjs';
import { argmaxRows, softmaxRows } from '../teachers/responses.ts';

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
      const x = tf.tensor4d(images.subarray(start * per, (start + n) * per), [
        n,
        dims.height,
        dims.width,
        dims.channels,
      ]);
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

export interface ClassificationReport {
  /** Top-1 class per image. */
  predicted: Int32Array;
  /** confusion[label][predicted], over the images whose label is a class (0 ≤ label < C). */
  confusion: number[][];
  perClass: { accuracy: number; count: number }[];
  accuracy: number;
  /** Ten reliability bins of the top-1 probability, [0, 0.1) … [0.9, 1]. */
  calibration: { lo: number; hi: number; count: number; accuracy: number; confidence: number }[];
  /** Expected calibration error: the count-weighted mean |accuracy − confidence| over the bins. */
  ece: number;
}

/**
 * Confusion matrix, accuracy and calibration of `count` rows of logits against labels. Images
 * labelled outside 0…C−1 (e.g. −1, unlabelled) are left out of every figure but still predicted.
 */
export function classificationReport(
  logits: Float32Array,
  labels: ArrayLike<number>,
  count: number,
): ClassificationReport {
  const C = logits.length / count;
  const probs = softmaxRows(logits, C);
  const predicted = argmaxRows(logits, C);
  const confusion = Array.from({ length: C }, () => new Array<number>(C).fill(0));
  const bins = Array.from({ length: 10 }, (_, i) => ({ lo: i / 10, hi: (i + 1) / 10, count: 0, correct: 0, conf: 0 }));
  let correct = 0;
  let counted = 0;
  for (let i = 0; i < count; i++) {
    const y = labels[i];
    if (y < 0 || y >= C) continue;
    counted++;
    confusion[y][predicted[i]]++;
    const ok = predicted[i] === y;
    if (ok) correct++;
    const p = probs[i * C + predicted[i]];
    const b = bins[Math.min(9, Math.floor(p * 10))];
    b.count++;
    b.conf += p;
    if (ok) b.correct++;
  }
  const calibration = bins.map((b) => ({
    lo: b.lo,
    hi: b.hi,
    count: b.count,
    accuracy: b.count ? b.correct / b.count : 0,
    confidence: b.count ? b.conf / b.count : 0,
  }));
  const ece = calibration.reduce(
    (s, b) => s + (b.count / Math.max(1, counted)) * Math.abs(b.accuracy - b.confidence),
    0,
  );
  const perClass = confusion.map((row, c) => {
    const n = row.reduce((a, b) => a + b, 0);
    return { accuracy: n ? row[c] / n : 0, count: n };
  });
  return { predicted, confusion, perClass, accuracy: counted ? correct / counted : 0, calibration, ece };
}
