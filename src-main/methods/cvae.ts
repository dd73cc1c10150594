/**
 * The conditional VAE of FS-BBT (Nguyen et al., ECCV 2022, §3.2): MLP encoder (x ‖ c) → 256 → 128 →
 * 64 → (μ, log σ²) with a 2-d latent, decoder (z ‖ c) → 64 → 128 → 256 → D sigmoid, trained with
 * summed pixel BCE + KL (see `cvaeLoss`). c is the one-hot of the teacher's top-1 label.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../util/rng.ts';
import { cvaeLoss } from './losses.ts';

interface Dense {
  w: tf.Variable;
  b: tf.Variable;
}

function dense(inputs: number, units: number, rng: Rng): Dense {
  // Glorot uniform from the run's RNG, so the CVAE is reproducible from the recipe seed.
  const limit = Math.sqrt(6 / (inputs + units));
  const values = new Float32Array(inputs * units);
  for (let i = 0; i < values.length; i++) values[i] = (2 * rng.next() - 1) * limit;
  return { w: tf.variable(tf.tensor2d(values, [inputs, units])), b: tf.variable(tf.zeros([units])) };
}

function apply(layer: Dense, x: tf.Tensor2D): tf.Tensor2D {
  return tf.add(tf.matMul(x, layer.w), layer.b) as tf.Tensor2D;
}

export class ConditionalVae {
  readonly latent = 2;
  private readonly encoder: Dense[];
  private readonly mu: Dense;
  private readonly logVar: Dense;
  private readonly decoder: Dense[];

  constructor(
    readonly dims: number,
    readonly numClasses: number,
    rng: Rng,
  ) {
    const hidden = [256, 128, 64];
    let inputs = dims + numClasses;
    this.encoder = hidden.map((h) => {
      const l = dense(inputs, h, rng);
      inputs = h;
      return l;
    });
    this.mu = dense(64, this.latent, rng);
    this.logVar = dense(64, this.latent, rng);
    inputs = this.latent + numClasses;
    this.decoder = [64, 128, 256, dims].map((h) => {
      const l = dense(inputs, h, rng);
      inputs = h;
      return l;
    });
  }

  get variables(): tf.Variable[] {
    return [...this.encoder, this.mu, this.logVar, ...this.decoder].flatMap((l) => [l.w, l.b]);
  }

  decode(z: tf.Tensor2D, c: tf.Tensor2D): tf.Tensor2D {
    let h = tf.concat([z, c], 1) as tf.Tensor2D;
    this.decoder.forEach((l, i) => {
      h = i === this.decoder.length - 1 ? tf.sigmoid(apply(l, h)) : tf.relu(apply(l, h));
    });
    return h;
  }

  /** Loss of one batch; `eps` is the reparameterisation noise (B × 2), drawn by the caller. */
  loss(x: tf.Tensor2D, c: tf.Tensor2D, eps: tf.Tensor2D): tf.Scalar {
    let h = tf.concat([x, c], 1) as tf.Tensor2D;
    for (const l of this.encoder) h = tf.relu(apply(l, h));
    const mu = apply(this.mu, h);
    const logVar = apply(this.logVar, h);
    const z = tf.add(mu, tf.mul(tf.exp(tf.mul(logVar, 0.5)), eps)) as tf.Tensor2D;
    return cvaeLoss(this.decode(z, c), x, mu, logVar);
  }

  /** Adam (lr 1e-3) over `epochs` passes of `count` images with their class indices. */
  async train(
    images: Float32Array,
    classes: Int32Array,
    count: number,
    opts: { epochs: number; batchSize: number; rng: Rng; shouldStop?: () => boolean },
  ): Promise<number> {
    const optimizer = tf.train.adam(1e-3);
    const order = new Int32Array(count);
    const D = this.dims;
    const C = this.numClasses;
    const xb = new Float32Array(opts.batchSize * D);
    const cb = new Float32Array(opts.batchSize * C);
    const eb = new Float32Array(opts.batchSize * this.latent);
    let last = NaN;
    try {
      for (let epoch = 0; epoch < opts.epochs; epoch++) {
        for (let i = 0; i < count; i++) order[i] = i;
        opts.rng.shuffle(order);
        let sum = 0;
        for (let b0 = 0; b0 < count; b0 += opts.batchSize) {
          const n = Math.min(opts.batchSize, count - b0);
          cb.fill(0);
          for (let i = 0; i < n; i++) {
            const src = order[b0 + i];
            xb.set(images.subarray(src * D, (src + 1) * D), i * D);
            cb[i * C + classes[src]] = 1;
          }
          for (let i = 0; i < n * this.latent; i++) eb[i] = opts.rng.normal();
          const x = tf.tensor2d(xb.subarray(0, n * D), [n, D]);
          const c = tf.tensor2d(cb.subarray(0, n * C), [n, C]);
          const e = tf.tensor2d(eb.subarray(0, n * this.latent), [n, this.latent]);
          const loss = optimizer.minimize(() => this.loss(x, c, e), true, this.variables) as tf.Scalar;
          sum += (await loss.data())[0] * n;
          tf.dispose([x, c, e, loss]);
        }
        last = sum / count;
        if (opts.shouldStop?.()) break;
      }
    } finally {
      optimizer.dispose();
    }
    return last;
  }

  /**
   * FS-BBT §3.3 sampling: classes balanced (round robin), z drawn half from N(0, I) and half
   * uniformly in [−3, 3]².
   */
  async sample(count: number, rng: Rng): Promise<{ images: Float32Array; classes: Int32Array }> {
    const C = this.numClasses;
    const classes = new Int32Array(count);
    const zv = new Float32Array(count * this.latent);
    const cv = new Float32Array(count * C);
    for (let i = 0; i < count; i++) {
      classes[i] = i % C;
      cv[i * C + classes[i]] = 1;
      for (let k = 0; k < this.latent; k++) zv[i * this.latent + k] = i % 2 === 0 ? rng.normal() : 6 * rng.next() - 3;
    }
    const out = tf.tidy(() => this.decode(tf.tensor2d(zv, [count, this.latent]), tf.tensor2d(cv, [count, C])));
    const images = (await out.data()) as Float32Array;
    out.dispose();
    return { images: Float32Array.from(images), classes };
  }

  dispose(): void {
    tf.dispose(this.variables);
  }
}
