/**
 * Seeded initializers for the zoo. tfjs initializers draw from a global RNG unless
 * given a seed, so every kernel gets its own seed forked from the build seed, in a
 * fixed order, which makes a build reproducible layer by layer.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../util/rng.ts';

type Initializer = ReturnType<typeof tf.initializers.glorotUniform>;

export class SeededInit {
  private readonly rng: Rng;

  constructor(seed: number) {
    this.rng = new Rng(seed);
  }

  /** Glorot/Xavier uniform, the Keras default for Dense and plain convolutions. */
  glorot(): Initializer {
    return tf.initializers.glorotUniform({ seed: this.rng.fork() });
  }

  /** He normal suits ReLU networks with BN (ResNet, MobileNet). */
  he(): Initializer {
    return tf.initializers.heNormal({ seed: this.rng.fork() });
  }
}

export function assertMinSpatial(key: string, inputShape: [number, number, number], min: number): void {
  const [h, w, c] = inputShape;
  for (const v of inputShape) {
    if (!Number.isInteger(v) || v <= 0)
      throw new Error(`${key}: inputShape must be positive integers, got [${inputShape.join(', ')}]`);
  }
  if (h < min || w < min) {
    throw new Error(`${key}: input ${h}x${w}x${c} is too small; needs at least ${min}x${min}`);
  }
}

export function assertNumClasses(key: string, numClasses: number): void {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new Error(`${key}: numClasses must be a positive integer, got ${numClasses}`);
  }
}
