/**
 * Turns what a protocol returned (a score matrix, top-k lists or bare labels) into the normalised
 * `TeacherResponses`, using the declared response kind or, where none was declared, the data.
 */
import {
  argmaxRows,
  responsesFromLogits,
  TeacherResponseError,
  type ResponseKind,
  type TeacherResponses,
} from './responses.ts';

/** Same tolerance as validation: FP16 transport may move a row sum by ~1e-3. */
const SUM_TOLERANCE = 1e-2;

/** Rows all in [0, 1] summing to ≈ 1 look like probabilities; anything else is treated as logits. */
export function detectScoreKind(values: ArrayLike<number>, numClasses: number): 'logits' | 'probabilities' {
  const rows = values.length / numClasses;
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let c = 0; c < numClasses; c++) {
      const v = values[r * numClasses + c];
      if (!(v >= 0 && v <= 1)) return 'logits';
      sum += v;
    }
    if (Math.abs(sum - 1) > SUM_TOLERANCE) return 'logits';
  }
  return 'probabilities';
}

/**
 * A count × numClasses score matrix. With `declared` logits or probabilities it is read as such
 * (and validation later rejects a mismatch); otherwise the kind is detected.
 */
export function responsesFromScores(
  values: ArrayLike<number>,
  count: number,
  numClasses: number,
  declared?: ResponseKind,
): TeacherResponses {
  if (values.length !== count * numClasses) {
    throw new TeacherResponseError(
      `teacher returned ${values.length} scores for ${count} sample(s) × ${numClasses} classes`,
    );
  }
  const data = Float32Array.from(values);
  const kind = declared === 'logits' || declared === 'probabilities' ? declared : detectScoreKind(data, numClasses);
  if (kind === 'logits') return responsesFromLogits(data, numClasses);
  return { kind: 'probabilities', count, numClasses, probs: data, top1: argmaxRows(data, numClasses) };
}

/** k classes and scores per sample, best first (re-sorted here in case the API does not). */
export function responsesFromTopK(
  indices: ArrayLike<number>,
  scores: ArrayLike<number>,
  count: number,
  k: number,
  numClasses: number,
): TeacherResponses {
  if (indices.length !== count * k || scores.length !== count * k) {
    throw new TeacherResponseError(`teacher returned ${indices.length} top-k entries for ${count} sample(s) × k=${k}`);
  }
  const idx = new Int32Array(count * k);
  const sc = new Float32Array(count * k);
  const top1 = new Int32Array(count);
  for (let r = 0; r < count; r++) {
    const row = Array.from({ length: k }, (_, j) => [scores[r * k + j], indices[r * k + j]] as const);
    row.sort((a, b) => b[0] - a[0]);
    row.forEach(([s, c], j) => {
      idx[r * k + j] = c;
      sc[r * k + j] = s;
    });
    top1[r] = row[0][1];
  }
  return { kind: 'top-k', count, numClasses, top1, topk: { k, indices: idx, scores: sc } };
}

/** One class index per sample. */
export function responsesFromLabels(labels: ArrayLike<number>, numClasses: number): TeacherResponses {
  const top1 = Int32Array.from(labels);
  for (let i = 0; i < labels.length; i++) {
    if (top1[i] !== labels[i]) throw new TeacherResponseError(`row ${i}: label ${labels[i]} is not a class index`);
  }
  return { kind: 'top-1', count: labels.length, numClasses, top1 };
}
