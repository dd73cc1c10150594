/**
 * Distillation losses. Each takes student logits [B, C] and target distributions [B, C]
 * and returns the batch mean as a scalar.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Hinton et al. 2015, "Distilling the Knowledge in a Neural Network":
 * L = T² · KL(q ‖ softmax(s / T)), q = the teacher's distribution softened at T.
 * The T² keeps gradient magnitudes comparable across temperatures.
 */
export function kdKlLoss(studentLogits: tf.Tensor2D, softenedTargets: tf.Tensor2D, temperature: number): tf.Scalar {
  return tf.tidy(() => {
    const logQ = tf.log(tf.maximum(softenedTargets, 1e-12));
    const logP = tf.logSoftmax(tf.div(studentLogits, temperature));
    const kl = tf.sum(tf.mul(softenedTargets, tf.sub(logQ, logP)), 1);
    return tf.mul(tf.mean(kl), temperature * temperature) as tf.Scalar;
  });
}

/** Cross-entropy against (possibly soft) targets: −Σ q · log softmax(s). With one-hot q, plain CE. */
export function softCrossEntropy(studentLogits: tf.Tensor2D, targets: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.neg(tf.mean(tf.sum(tf.mul(targets, tf.logSoftmax(studentLogits)), 1))) as tf.Scalar);
}
