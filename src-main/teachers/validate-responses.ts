import { TeacherResponseError, type TeacherResponses } from './responses.ts';

/** Probabilities may drift from 1 by float rounding and FP16 transport, never by more. */
const PROB_SUM_TOLERANCE = 1e-2;

/**
 * Every reply is checked before use (docs/protocols.md, "Auth, limits, failures"): row count,
 * finite numbers, probabilities in [0, 1] summing to ≈ 1, class indices in range.
 * A bad reply is an error, never silently used.
 */
export function validateResponses(r: TeacherResponses, expectedCount: number, expectedClasses: number): void {
  if (r.count !== expectedCount || r.top1.length !== expectedCount) {
    throw new TeacherResponseError(`teacher answered ${r.count} row(s) for ${expectedCount} sample(s)`);
  }
  if (r.numClasses !== expectedClasses) {
    throw new TeacherResponseError(`teacher answered ${r.numClasses} classes, earlier replies had ${expectedClasses}`);
  }
  for (let i = 0; i < r.count; i++) {
    const c = r.top1[i];
    if (!(c >= 0 && c < r.numClasses))
      throw new TeacherResponseError(`row ${i}: class ${c} outside 0..${r.numClasses - 1}`);
  }
  if (r.logits) {
    for (let i = 0; i < r.logits.length; i++) {
      if (!Number.isFinite(r.logits[i])) {
        throw new TeacherResponseError(`row ${Math.floor(i / r.numClasses)}: non-finite logit ${r.logits[i]}`);
      }
    }
  }
  if (r.probs) {
    for (let row = 0; row < r.count; row++) {
      let sum = 0;
      for (let c = 0; c < r.numClasses; c++) {
        const p = r.probs[row * r.numClasses + c];
        if (!Number.isFinite(p) || p < 0 || p > 1)
          throw new TeacherResponseError(`row ${row}: probability ${p} outside [0, 1]`);
        sum += p;
      }
      if (Math.abs(sum - 1) > PROB_SUM_TOLERANCE)
        throw new TeacherResponseError(`row ${row}: probabilities sum to ${sum.toFixed(4)}, not 1`);
    }
  }
  if (r.topk) {
    for (let i = 0; i < r.topk.scores.length; i++) {
      const s = r.topk.scores[i];
      if (!Number.isFinite(s))
        throw new TeacherResponseError(`row ${Math.floor(i / r.topk.k)}: non-finite top-k score ${s}`);
      const c = r.topk.indices[i];
      if (!(c >= 0 && c < r.numClasses))
        throw new TeacherResponseError(`row ${Math.floor(i / r.topk.k)}: top-k class ${c} out of range`);
    }
  }
}
