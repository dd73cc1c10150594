/**
 * Turns whatever the teacher revealed into per-sample target distributions.
 * Temperature without logits (docs/methods.md): softmax(z/T)_i = p_i^(1/T) / Σ_j p_j^(1/T).
 */
import type { TeacherResponses } from '../teachers/responses.ts';

export interface SoftTargets {
  /** count × numClasses, rows sum to 1. */
  values: Float32Array;
  /** How the targets were obtained, for the run's report. */
  source: 'logits' | 'probabilities' | 'top-k (rest spread uniformly)' | 'one-hot top-1';
}

export function softTargets(r: TeacherResponses, temperature: number): SoftTargets {
  const C = r.numClasses;
  const out = new Float32Array(r.count * C);
  if (r.logits) {
    for (let i = 0; i < r.count; i++) softmaxInto(r.logits, out, i * C, C, 1 / temperature);
    return { values: out, source: 'logits' };
  }
  if (r.probs) {
    for (let i = 0; i < r.count; i++) powNormalizeInto(r.probs, out, i * C, C, 1 / temperature);
    return { values: out, source: 'probabilities' };
  }
  if (r.topk) {
    const { k, indices, scores } = r.topk;
    // The API hides the other classes' mass; spreading the remainder evenly is the
    // maximum-entropy completion consistent with what was revealed.
    const partial = new Float32Array(r.count * C);
    for (let i = 0; i < r.count; i++) {
      let known = 0;
      for (let j = 0; j < k; j++) known += Math.max(0, scores[i * k + j]);
      const scale = known > 1 ? 1 / known : 1;
      const rest = C > k ? Math.max(0, 1 - known * scale) / (C - k) : 0;
      for (let c = 0; c < C; c++) partial[i * C + c] = rest;
      for (let j = 0; j < k; j++) partial[i * C + indices[i * k + j]] = Math.max(0, scores[i * k + j]) * scale;
      powNormalizeInto(partial, out, i * C, C, 1 / temperature);
    }
    return { values: out, source: 'top-k (rest spread uniformly)' };
  }
  for (let i = 0; i < r.count; i++) out[i * C + r.top1[i]] = 1;
  return { values: out, source: 'one-hot top-1' };
}

/** One-hot rows from the teacher's top-1 labels. */
export function hardTargets(r: TeacherResponses): Float32Array {
  const out = new Float32Array(r.count * r.numClasses);
  for (let i = 0; i < r.count; i++) out[i * r.numClasses + r.top1[i]] = 1;
  return out;
}

function softmaxInto(src: Float32Array, dst: Float32Array, o: number, C: number, invT: number): void {
  let max = -Infinity;
  for (let c = 0; c < C; c++) max = Math.max(max, src[o + c] * invT);
  let sum = 0;
  for (let c = 0; c < C; c++) sum += dst[o + c] = Math.exp(src[o + c] * invT - max);
  for (let c = 0; c < C; c++) dst[o + c] /= sum;
}

function powNormalizeInto(src: Float32Array, dst: Float32Array, o: number, C: number, invT: number): void {
  // Work in log space so tiny probabilities raised to 1/T do not underflow to an all-zero row.
  let max = -Infinity;
  for (let c = 0; c < C; c++) max = Math.max(max, Math.log(Math.max(src[o + c], 1e-30)) * invT);
  let sum = 0;
  for (let c = 0; c < C; c++) sum += dst[o + c] = Math.exp(Math.log(Math.max(src[o + c], 1e-30)) * invT - max);
  for (let c = 0; c < C; c++) dst[o + c] /= sum;
}
