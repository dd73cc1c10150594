/**
 * Serialisable descriptions of what a training step computes. Closures cannot cross into worker
 * threads, so a method that wants data-parallel training names its loss and batch hook here and
 * both the single-core loop and every worker build the same functions from the same description.
 */
import os from 'node:os';
import type * as tf from '@tensorflow/tfjs';
import { kdKlLoss, softCrossEntropy } from '../../methods/losses.ts';
import { batchMixup } from '../../methods/mixup.ts';
import type { Rng } from '../../util/rng.ts';

export type LossSpec = { kind: 'soft-ce' } | { kind: 'kd-kl'; temperature: number };

/** On-the-fly MixUp of each batch with probability `p` per row (see mixup.ts batchMixup). */
export type HookSpec = { kind: 'mixup'; p: number };

export interface ParallelSpec {
  loss: LossSpec;
  batchHook?: HookSpec;
}

export type BatchLossFn = (logits: tf.Tensor2D, targets: tf.Tensor2D) => tf.Scalar;
export type BatchHookFn = (images: Float32Array, targets: Float32Array, n: number, rng: Rng) => void;

export function buildLoss(spec: LossSpec): BatchLossFn {
  switch (spec.kind) {
    case 'soft-ce':
      return softCrossEntropy;
    case 'kd-kl': {
      const T = spec.temperature;
      return (s, q) => kdKlLoss(s, q, T);
    }
  }
}

/** `per` values per image, `C` per target row. */
export function buildHook(spec: HookSpec, per: number, C: number): BatchHookFn {
  switch (spec.kind) {
    case 'mixup':
      return batchMixup(spec.p, per, C);
  }
}

/** Environment variable with the default worker count when neither the recipe nor the CLI sets one. */
export const WORKERS_ENV_VAR = 'DISTILL_WORKERS';

/**
 * The number of training threads: the explicit setting (recipe `training.workers`, `--workers`),
 * else DISTILL_WORKERS, else every core the machine offers.
 */
export function resolveWorkers(requested?: number): number {
  if (requested !== undefined) {
    if (!Number.isInteger(requested) || requested < 1) throw new Error(`workers must be a positive integer, got ${requested}`);
    return requested;
  }
  const env = process.env[WORKERS_ENV_VAR]?.trim();
  if (env) {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${WORKERS_ENV_VAR}='${env}' is not a positive integer`);
    return n;
  }
  return os.availableParallelism();
}
