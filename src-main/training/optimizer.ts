/**
 * The optimiser every training loop uses (the single-core trainer and the data-parallel
 * workers alike), so that a faster implementation lands everywhere at once.
 */
import type * as tf from '@tensorflow/tfjs';
import { FusedAdamOptimizer } from '../backends/training-speedups.ts';

/** Adam with tfjs's defaults (β₁ 0.9, β₂ 0.999, the backend's ε), fused into one kernel per variable on wasm. */
export function createAdam(learningRate: number): tf.AdamOptimizer {
  return new FusedAdamOptimizer(learningRate, 0.9, 0.999);
}
