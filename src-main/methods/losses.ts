/**
 * Distillation losses. Each takes student logits [B, C] and target distributions [B, C]
 * and returns the batch mean as a scalar. The two that methods train students with on their own,
 * soft cross-entropy and the KD loss, are registered as specs (softCe, kdKl) for the trainer.
 */
import * as tf from '@tensorflow/tfjs';
import { defineLoss } from '../training/step-registry.ts';

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

/** `{ key: 'soft-ce' }`: softCrossEntropy as a training spec. */
export const softCe = defineLoss(import.meta.url, 'soft-ce', () => softCrossEntropy);

/** `{ key: 'kd-kl', kwargs: { temperature } }`: kdKlLoss at that temperature as a training spec. */
export const kdKl = defineLoss(
  import.meta.url,
  'kd-kl',
  ({ temperature }: { temperature: number }) =>
    (s, q) =>
      kdKlLoss(s, q, temperature),
);

/**
 * Label-smoothed soft cross-entropy (Szegedy et al. 2016 smoothing applied to a soft target):
 * q′ = (1 − ε) · q + ε / C, L = −Σ q′ · log softmax(s).
 */
export function labelSmoothedSoftCrossEntropy(
  studentLogits: tf.Tensor2D,
  targets: tf.Tensor2D,
  epsilon: number,
): tf.Scalar {
  return tf.tidy(() => {
    const C = targets.shape[1];
    const smoothed = tf.add(tf.mul(targets, 1 - epsilon), epsilon / C) as tf.Tensor2D;
    return softCrossEntropy(studentLogits, smoothed);
  });
}

/**
 * GPD student objective (Guo et al., ICLR 2025, "Gap-Preserving Distillation", §3):
 * L_S = KD(s, t) + λ · CE_ls(s, stopgrad(softmax(d))), λ = 3, smoothing ε = 0.1,
 * where t is the static (black-box) teacher's target at T and d the dynamic teacher's logits.
 */
export function gpdStudentLoss(
  studentLogits: tf.Tensor2D,
  teacherSoftened: tf.Tensor2D,
  dynamicLogits: tf.Tensor2D,
  opts: { temperature: number; weight: number; smoothing: number; hard: boolean },
): tf.Scalar {
  return tf.tidy(() => {
    const kd = opts.hard
      ? softCrossEntropy(studentLogits, teacherSoftened)
      : kdKlLoss(studentLogits, teacherSoftened, opts.temperature);
    const dt = detach(tf.softmax(dynamicLogits)) as tf.Tensor2D;
    return tf.add(
      kd,
      tf.mul(labelSmoothedSoftCrossEntropy(studentLogits, dt, opts.smoothing), opts.weight),
    ) as tf.Scalar;
  });
}

/**
 * Conditional VAE objective (Kingma & Welling 2014; Sohn et al. 2015), as used by FS-BBT
 * (Nguyen et al., ECCV 2022, §3.2): per image, summed pixel BCE(x̂, x) +
 * KL(N(μ, σ²) ‖ N(0, I)) = −½ Σ (1 + log σ² − μ² − σ²); returned as the batch mean.
 */
export function cvaeLoss(
  reconstruction: tf.Tensor2D,
  images: tf.Tensor2D,
  mu: tf.Tensor2D,
  logVar: tf.Tensor2D,
): tf.Scalar {
  return tf.tidy(() => {
    const p = tf.clipByValue(reconstruction, 1e-7, 1 - 1e-7);
    const bce = tf.neg(tf.sum(tf.add(tf.mul(images, tf.log(p)), tf.mul(tf.sub(1, images), tf.log(tf.sub(1, p)))), 1));
    const kl = tf.mul(tf.sum(tf.sub(tf.sub(tf.add(1, logVar), tf.square(mu)), tf.exp(logVar)), 1), -0.5);
    return tf.mean(tf.add(bce, kl)) as tf.Scalar;
  });
}

/**
 * MEKD distillation objective (Ma et al., CVPR 2024, "Aligning Logits Generatively", Eq. 6):
 * L = ‖G(s/τ) − G(t/τ)‖₁ + β · τ² · KL(softmax(t/τ) ‖ softmax(s/τ)), with G the frozen generator.
 * The L1 term is taken per pixel (mean absolute difference) so it does not scale with image size;
 * the caller passes G's two outputs, so the gradient reaches the student through G.
 */
export function mekdLoss(
  imageFromStudent: tf.Tensor,
  imageFromTeacher: tf.Tensor,
  studentLogits: tf.Tensor2D,
  teacherSoftened: tf.Tensor2D,
  tau: number,
  beta: number,
): tf.Scalar {
  return tf.tidy(() => {
    const l1 = tf.mean(tf.abs(tf.sub(imageFromStudent, detach(imageFromTeacher))));
    return tf.add(l1, tf.mul(kdKlLoss(studentLogits, teacherSoftened, tau), beta)) as tf.Scalar;
  });
}

/** Identity whose gradient is zero (tfjs has no stop_gradient): the value is used as a constant target. */
export const detach = tf.customGrad(((x: tf.Tensor) => ({
  value: tf.clone(x),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as unknown as Parameters<typeof tf.customGrad>[0]) as <T extends tf.Tensor>(x: T) => T;
