/**
 * The proof attached to every export: each file is run in ONNX Runtime on held-out images and
 * compared with the fp32 tfjs student it came from. fp32 must match within the parity bound;
 * fp16 and int8 are lossy by design, so for them the report gives the max abs diff, fidelity
 * (top-1 agreement with the fp32 student) and accuracy beside the student's own.
 */
import type * as tf from '@tensorflow/tfjs';
import { predictLogits, agreement } from '../training/evaluate.ts';
import { argmaxRows } from '../teachers/responses.ts';
import { openSession, runAll, type ImageDims } from './ort-run.ts';
import { inspectOptimizedGraph, type OptimizedGraph } from './ort-optimized-graph.ts';
import type { PrecisionArtifact, Precision } from './precisions.ts';
import { ParityError, QuantizationError } from './errors.ts';

export const FP32_PARITY_BOUND = 1e-4;

export interface EvalSet {
  images: Float32Array;
  count: number;
  dims: ImageDims;
  labels?: Int32Array;
  /** Where the images came from, for the report. */
  source: string;
}

export interface StudentReference {
  logits: Float32Array;
  classes: Int32Array;
  /** Accuracy of the tfjs student against labels, NaN without labels. */
  accuracy: number;
}

export interface PrecisionReport {
  precision: Precision;
  sizeBytes: number;
  samples: number;
  maxAbsDiff: number;
  fidelity: number;
  accuracy: number;
  /** Student accuracy minus this file's accuracy (positive = lost). */
  accuracyDrop: number;
  /** For int8: what ORT runs after its QDQ fusion. */
  optimized?: OptimizedGraph;
}

export async function studentReference(model: tf.LayersModel, set: EvalSet): Promise<StudentReference> {
  const logits = await predictLogits(model, set.images, set.count, set.dims);
  const classes = argmaxRows(logits, logits.length / set.count);
  return { logits, classes, accuracy: set.labels ? agreement(classes, set.labels) : NaN };
}

export async function verifyPrecision(
  artifact: PrecisionArtifact,
  set: EvalSet,
  ref: StudentReference,
): Promise<PrecisionReport> {
  const session = await openSession(artifact.bytes);
  let logits: Float32Array;
  try {
    logits = await runAll(session, set.images, set.count, set.dims, artifact.inputLayout);
  } finally {
    await session.release();
  }
  if (logits.length !== ref.logits.length) {
    throw new ParityError(
      `${artifact.precision}: ONNX output has ${logits.length} values, the student ${ref.logits.length}`,
    );
  }
  let maxAbsDiff = 0;
  for (let i = 0; i < logits.length; i++) {
    const d = Math.abs(logits[i] - ref.logits[i]);
    if (!(d <= maxAbsDiff)) maxAbsDiff = Number.isNaN(d) ? Infinity : d;
  }
  const classes = argmaxRows(logits, logits.length / set.count);
  const accuracy = set.labels ? agreement(classes, set.labels) : NaN;
  const report: PrecisionReport = {
    precision: artifact.precision,
    sizeBytes: artifact.bytes.length,
    samples: set.count,
    maxAbsDiff,
    fidelity: agreement(classes, ref.classes),
    accuracy,
    accuracyDrop: ref.accuracy - accuracy,
  };
  if (artifact.precision === 'fp32' && !(maxAbsDiff <= FP32_PARITY_BOUND)) {
    throw new ParityError(
      `fp32 export differs from the tfjs student by ${maxAbsDiff} on ${set.count} images (bound ${FP32_PARITY_BOUND})`,
    );
  }
  if (artifact.precision === 'int8') {
    report.optimized = await inspectOptimizedGraph(artifact.bytes);
    if (!report.optimized.integerKernels.length) {
      throw new QuantizationError(
        `ONNX Runtime fused none of the int8 QDQ groups into integer kernels (optimized graph: ${report.optimized.ops.join(' ')})`,
      );
    }
  }
  return report;
}
