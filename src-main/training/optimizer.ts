/**
 * The optimiser every training loop uses (the single-core trainer and the data-parallel
 * workers alike), so that a faster implementation lands everywhere at once.
 */
import * as tf from '@tensorflow/tfjs';

export function createAdam(learningRate: number): tf.AdamOptimizer {
  return tf.train.adam(learningRate);
}
