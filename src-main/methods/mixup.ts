/**
 * MixUp (Zhang et al., ICLR 2018): x = λ·x₁ + (1 − λ)·x₂, y = λ·y₁ + (1 − λ)·y₂.
 * Used two ways: as a pool of synthetic images each labelled once by the teacher (FS-BBT,
 * Active MixUp), and on the fly inside training batches, which costs no queries.
 */
import type { Rng } from '../util/rng.ts';
import { defineHook } from '../training/step-registry.ts';

export interface MixupPool {
  images: Float32Array;
  count: number;
  /** Per mixed image: the two source indices and λ. */
  pairs: Int32Array;
  lambdas: Float32Array;
}

/**
 * FS-BBT §3.3: λ ~ Beta(1, 1) = U(0, 1) rounded to 0.01; pairs with λ ≤ low or λ ≥ 1 − low are
 * dropped (nearly a copy of a real image). Returns the kept mixes; `wanted − count` were dropped.
 */
export function makeMixupPool(
  images: Float32Array,
  sourceCount: number,
  per: number,
  wanted: number,
  rng: Rng,
  low = 0.05,
): MixupPool {
  const out = new Float32Array(wanted * per);
  const pairs = new Int32Array(wanted * 2);
  const lambdas = new Float32Array(wanted);
  let count = 0;
  for (let k = 0; k < wanted; k++) {
    const a = rng.int(sourceCount);
    let b = rng.int(sourceCount - 1);
    if (b >= a) b++;
    const lambda = Math.round(rng.next() * 100) / 100;
    if (lambda <= low || lambda >= 1 - low) continue;
    mixInto(out, count * per, images, a * per, b * per, per, lambda);
    pairs[2 * count] = a;
    pairs[2 * count + 1] = b;
    lambdas[count] = lambda;
    count++;
  }
  return {
    images: out.slice(0, count * per),
    count,
    pairs: pairs.slice(0, 2 * count),
    lambdas: lambdas.slice(0, count),
  };
}

function mixInto(
  dst: Float32Array,
  o: number,
  src: Float32Array,
  a: number,
  b: number,
  len: number,
  lambda: number,
): void {
  for (let i = 0; i < len; i++) dst[o + i] = lambda * src[a + i] + (1 - lambda) * src[b + i];
}

/** Mixed target row: λ·q₁ + (1 − λ)·q₂ (Zhang et al. 2018, Eq. 1). */
export function mixTargets(q1: ArrayLike<number>, q2: ArrayLike<number>, lambda: number): Float32Array {
  const out = new Float32Array(q1.length);
  for (let c = 0; c < q1.length; c++) out[c] = lambda * q1[c] + (1 - lambda) * q2[c];
  return out;
}

/**
 * On-the-fly MixUp of a training batch in place (FS-BBT §3.4): each row i is mixed with row
 * π(i) of a random permutation, λ ~ Beta(α, α) with α = 1 (uniform), with probability `p`.
 * Targets mix with the same λ, so the batch stays consistent and no query is spent.
 */
export function batchMixup(
  p: number,
  per: number,
  C: number,
): (x: Float32Array, y: Float32Array, n: number, rng: Rng) => void {
  let xCopy = new Float32Array(0);
  let yCopy = new Float32Array(0);
  return (x, y, n, rng) => {
    if (p <= 0 || n < 2) return;
    if (xCopy.length < n * per) xCopy = new Float32Array(n * per);
    if (yCopy.length < n * C) yCopy = new Float32Array(n * C);
    xCopy.set(x.subarray(0, n * per));
    yCopy.set(y.subarray(0, n * C));
    for (let i = 0; i < n; i++) {
      if (rng.next() >= p) continue;
      const j = rng.int(n);
      const lambda = rng.next();
      for (let k = 0; k < per; k++) x[i * per + k] = lambda * xCopy[i * per + k] + (1 - lambda) * xCopy[j * per + k];
      for (let c = 0; c < C; c++) y[i * C + c] = lambda * yCopy[i * C + c] + (1 - lambda) * yCopy[j * C + c];
    }
  };
}

/** `{ key: 'mixup', kwargs: { p } }`: batchMixup as a training spec (the trainer's batch hook). */
export const mixupHook = defineHook(import.meta.url, 'mixup', ({ p }: { p: number }, { per, C }) =>
  batchMixup(p, per, C),
);
