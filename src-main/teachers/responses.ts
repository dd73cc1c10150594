/**
 * Teacher responses in one normalised form, whatever the protocol returned.
 * See docs/methods.md ("Response kinds and the query budget"): probabilities, logits, top-k, or a top-1 label only.
 */
import { TeacherError } from './errors.ts';

export const RESPONSE_KINDS = ['logits', 'probabilities', 'top-k', 'top-1'] as const;
export type ResponseKind = (typeof RESPONSE_KINDS)[number];

/** How much each kind reveals, most first; a teacher can always be degraded to a later kind. */
const RICHNESS: Record<ResponseKind, number> = { logits: 3, probabilities: 2, 'top-k': 1, 'top-1': 0 };

export interface TeacherResponses {
  kind: ResponseKind;
  count: number;
  numClasses: number;
  /** Top-1 class per sample; always present. */
  top1: Int32Array;
  /** count × numClasses probabilities; present for logits and probabilities replies. */
  probs?: Float32Array;
  /** count × numClasses logits; only when the teacher exposes them. */
  logits?: Float32Array;
  /** For top-k replies: count × k class indices and scores, best first. */
  topk?: { k: number; indices: Int32Array; scores: Float32Array };
}

/**
 * A reply that arrived but cannot be used (wrong rows, non-finite numbers, bad probabilities,
 * a changed class count). The teacher ran the model, so the samples count as spent; never retried,
 * since the same input would get the same reply.
 */
export class TeacherResponseError extends TeacherError {
  override name = 'TeacherResponseError';
  override readonly code = 'teacher-bad-response';
  override readonly maybeProcessed = true;
}

export function isAtLeastAsRich(have: ResponseKind, want: ResponseKind): boolean {
  return RICHNESS[have] >= RICHNESS[want];
}

export function softmaxRows(logits: Float32Array, numClasses: number): Float32Array {
  const out = new Float32Array(logits.length);
  for (let r = 0; r < logits.length / numClasses; r++) {
    const o = r * numClasses;
    let max = -Infinity;
    for (let c = 0; c < numClasses; c++) max = Math.max(max, logits[o + c]);
    let sum = 0;
    for (let c = 0; c < numClasses; c++) {
      const e = Math.exp(logits[o + c] - max);
      out[o + c] = e;
      sum += e;
    }
    for (let c = 0; c < numClasses; c++) out[o + c] /= sum;
  }
  return out;
}

export function argmaxRows(values: Float32Array, numClasses: number): Int32Array {
  const n = values.length / numClasses;
  const out = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    let best = 0;
    for (let c = 1; c < numClasses; c++) if (values[r * numClasses + c] > values[r * numClasses + best]) best = c;
    out[r] = best;
  }
  return out;
}

/** Builds responses from a logits matrix, as a local model or a logits endpoint yields. */
export function responsesFromLogits(logits: Float32Array, numClasses: number): TeacherResponses {
  return {
    kind: 'logits',
    count: logits.length / numClasses,
    numClasses,
    top1: argmaxRows(logits, numClasses),
    logits,
    probs: softmaxRows(logits, numClasses),
  };
}

/**
 * Reduces a response to what a less generous API would reveal, so that one local model can stand
 * in for a probabilities-only, top-k or label-only cloud endpoint.
 */
export function degradeResponses(r: TeacherResponses, kind: ResponseKind, k = 3): TeacherResponses {
  if (!isAtLeastAsRich(r.kind, kind)) {
    throw new TeacherResponseError(`cannot turn a ${r.kind} response into ${kind}: the teacher reveals less`);
  }
  if (kind === r.kind) return r;
  const base = { count: r.count, numClasses: r.numClasses, top1: r.top1 };
  if (kind === 'probabilities') return { ...base, kind, probs: r.probs };
  if (kind === 'top-1') return { ...base, kind };
  const probs = r.probs;
  if (!probs) throw new TeacherResponseError('top-k needs scores to rank');
  const kk = Math.min(k, r.numClasses);
  const indices = new Int32Array(r.count * kk);
  const scores = new Float32Array(r.count * kk);
  for (let i = 0; i < r.count; i++) {
    const row = Array.from(probs.subarray(i * r.numClasses, (i + 1) * r.numClasses), (p, c) => [p, c] as const);
    row.sort((a, b) => b[0] - a[0]);
    for (let j = 0; j < kk; j++) {
      indices[i * kk + j] = row[j][1];
      scores[i * kk + j] = row[j][0];
    }
  }
  return { ...base, kind, topk: { k: kk, indices, scores } };
}

/** Concatenates responses of consecutive batches in order. */
export function concatResponses(parts: TeacherResponses[]): TeacherResponses {
  if (parts.length === 1) return parts[0];
  const first = parts[0];
  for (const p of parts) {
    if (p.kind !== first.kind || p.numClasses !== first.numClasses) {
      throw new TeacherResponseError(
        `inconsistent replies: ${p.kind}/${p.numClasses} classes after ${first.kind}/${first.numClasses} classes`,
      );
    }
  }
  const count = parts.reduce((s, p) => s + p.count, 0);
  const cat = (pick: (p: TeacherResponses) => Float32Array | undefined): Float32Array | undefined => {
    if (!pick(first)) return undefined;
    const out = new Float32Array(count * first.numClasses);
    let o = 0;
    for (const p of parts) {
      const a = pick(p)!;
      out.set(a, o);
      o += a.length;
    }
    return out;
  };
  const top1 = new Int32Array(count);
  let o = 0;
  for (const p of parts) {
    top1.set(p.top1, o);
    o += p.count;
  }
  let topk: TeacherResponses['topk'];
  if (first.topk) {
    const k = first.topk.k;
    const indices = new Int32Array(count * k);
    const scores = new Float32Array(count * k);
    let off = 0;
    for (const p of parts) {
      indices.set(p.topk!.indices, off);
      scores.set(p.topk!.scores, off);
      off += p.count * k;
    }
    topk = { k, indices, scores };
  }
  return {
    kind: first.kind,
    count,
    numClasses: first.numClasses,
    top1,
    probs: cat((p) => p.probs),
    logits: cat((p) => p.logits),
    topk,
  };
}
