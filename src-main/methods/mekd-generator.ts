/**
 * Deprivatization for MEKD (Ma et al., CVPR 2024, §3.2): a DCGAN-style generator whose latent has one
 * dimension per class, trained against a discriminator on the local images, with the information-
 * maximisation term α · mean(−ŷ · log D(G(z))), ŷ the teacher's max probability on G(z).
 *
 * Kept small for CPU/wasm: Linear(C → w₁·(H/4)²) → LeakyReLU → transposed conv ×2 → w₂ → LeakyReLU →
 * transposed conv ×2 → sigmoid. Deviations from the paper's generator, stated: transposed convolutions
 * instead of upsample + conv (the wasm backend has their gradients), no batch norm, and sigmoid
 * instead of tanh because our images live in [0, 1].
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../util/rng.ts';

function glorot(shape: number[], fanIn: number, fanOut: number, rng: Rng): tf.Variable {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = (2 * rng.next() - 1) * limit;
  return tf.variable(tf.tensor(v, shape));
}

const softplus = (x: tf.Tensor) => tf.softplus(x);

export class LatentGenerator {
  private readonly fc: tf.Variable;
  private readonly fcBias: tf.Variable;
  private readonly up1: tf.Variable;
  private readonly up1Bias: tf.Variable;
  private readonly up2: tf.Variable;
  private readonly up2Bias: tf.Variable;
  readonly h4: number;
  readonly w4: number;

  constructor(
    readonly latent: number,
    readonly dims: { height: number; width: number; channels: number },
    readonly widths: [number, number],
    rng: Rng,
  ) {
    if (dims.height % 4 || dims.width % 4)
      throw new Error(`mekd's generator needs image sides divisible by 4, got ${dims.height}×${dims.width}`);
    this.h4 = dims.height / 4;
    this.w4 = dims.width / 4;
    const [w1, w2] = widths;
    const units = w1 * this.h4 * this.w4;
    this.fc = glorot([latent, units], latent, units, rng);
    this.fcBias = tf.variable(tf.zeros([units]));
    // conv2dTranspose filters are [h, w, outChannels, inChannels].
    this.up1 = glorot([4, 4, w2, w1], 16 * w1, 16 * w2, rng);
    this.up1Bias = tf.variable(tf.zeros([w2]));
    this.up2 = glorot([4, 4, dims.channels, w2], 16 * w2, 16 * dims.channels, rng);
    this.up2Bias = tf.variable(tf.zeros([dims.channels]));
  }

  get variables(): tf.Variable[] {
    return [this.fc, this.fcBias, this.up1, this.up1Bias, this.up2, this.up2Bias];
  }

  /** z [B, C] → images [B, H, W, channels] in [0, 1]. */
  generate(z: tf.Tensor2D): tf.Tensor4D {
    const B = z.shape[0];
    const [w1, w2] = this.widths;
    const { height: H, width: W, channels: C } = this.dims;
    let h: tf.Tensor = tf.leakyRelu(tf.add(tf.matMul(z, this.fc), this.fcBias), 0.2);
    h = tf.reshape(h, [B, this.h4, this.w4, w1]);
    h = tf.leakyRelu(
      tf.add(
        tf.conv2dTranspose(h as tf.Tensor4D, this.up1 as tf.Tensor4D, [B, H / 2, W / 2, w2], 2, 'same'),
        this.up1Bias,
      ),
      0.2,
    );
    h = tf.sigmoid(
      tf.add(tf.conv2dTranspose(h as tf.Tensor4D, this.up2 as tf.Tensor4D, [B, H, W, C], 2, 'same'), this.up2Bias),
    );
    return h as tf.Tensor4D;
  }

  dispose(): void {
    tf.dispose(this.variables);
  }
}

class Discriminator {
  readonly variables: tf.Variable[];

  constructor(
    readonly dims: { height: number; width: number; channels: number },
    rng: Rng,
  ) {
    const c = dims.channels;
    const flat = 32 * (dims.height / 4) * (dims.width / 4);
    this.variables = [
      glorot([4, 4, c, 16], 16 * c, 16 * 16, rng),
      tf.variable(tf.zeros([16])),
      glorot([4, 4, 16, 32], 16 * 16, 16 * 32, rng),
      tf.variable(tf.zeros([32])),
      glorot([flat, 1], flat, 1, rng),
      tf.variable(tf.zeros([1])),
    ];
  }

  /** Real/fake logit per image. */
  logit(x: tf.Tensor4D): tf.Tensor1D {
    const [k1, b1, k2, b2, w, b] = this.variables;
    let h: tf.Tensor = tf.leakyRelu(tf.add(tf.conv2d(x, k1 as tf.Tensor4D, 2, 'same'), b1), 0.2);
    h = tf.leakyRelu(tf.add(tf.conv2d(h as tf.Tensor4D, k2 as tf.Tensor4D, 2, 'same'), b2), 0.2);
    h = tf.add(tf.matMul(tf.reshape(h, [x.shape[0], -1]), w), b);
    return tf.reshape(h, [-1]) as tf.Tensor1D;
  }
}

export interface DeprivatizeOptions {
  steps: number;
  batchSize: number;
  /** α of the information-maximisation term (0.5 in the paper). */
  alpha: number;
  rng: Rng;
  /** Teacher's max probability for each generated image (a paid query), or undefined to skip the term. */
  teacherConfidence?: (images: Float32Array, count: number) => Promise<Float32Array | undefined>;
  shouldStop?: () => boolean;
  log?: (m: string) => void;
}

/** Adversarial training (Adam 2e-4, β = (0.5, 0.999)) of `g` against a fresh discriminator. */
export async function deprivatize(
  g: LatentGenerator,
  images: Float32Array,
  count: number,
  o: DeprivatizeOptions,
): Promise<void> {
  const { height: H, width: W, channels: C } = g.dims;
  const per = H * W * C;
  const d = new Discriminator(g.dims, o.rng);
  const optD = tf.train.adam(2e-4, 0.5, 0.999);
  const optG = tf.train.adam(2e-4, 0.5, 0.999);
  const xb = new Float32Array(o.batchSize * per);
  const zb = new Float32Array(o.batchSize * g.latent);
  try {
    for (let step = 0; step < o.steps && !o.shouldStop?.(); step++) {
      const B = Math.min(o.batchSize, count);
      for (let i = 0; i < B; i++) {
        const src = o.rng.int(count);
        xb.set(images.subarray(src * per, (src + 1) * per), i * per);
      }
      for (let i = 0; i < B * g.latent; i++) zb[i] = o.rng.normal();
      const x = tf.tensor4d(xb.subarray(0, B * per), [B, H, W, C]);
      const z = tf.tensor2d(zb.subarray(0, B * g.latent), [B, g.latent]);
      let weights: tf.Tensor1D | undefined;
      if (o.teacherConfidence) {
        const fake = tf.tidy(() => g.generate(z));
        const conf = await o.teacherConfidence((await fake.data()) as Float32Array, B);
        fake.dispose();
        if (conf) weights = tf.tensor1d(conf);
      }
      // Discriminator: −log σ(D(x)) − log(1 − σ(D(G(z)))) = softplus(−D(x)) + softplus(D(G(z))).
      const dl = optD.minimize(
        () => tf.add(tf.mean(softplus(tf.neg(d.logit(x)))), tf.mean(softplus(d.logit(g.generate(z))))) as tf.Scalar,
        true,
        d.variables,
      );
      // Generator: non-saturating −log σ(D(G(z))) + α · mean(−ŷ · log σ(D(G(z)))).
      const gl = optG.minimize(
        () => {
          const nll = softplus(tf.neg(d.logit(g.generate(z))));
          const adv = tf.mean(nll);
          return (weights ? tf.add(adv, tf.mul(tf.mean(tf.mul(weights, nll)), o.alpha)) : adv) as tf.Scalar;
        },
        true,
        g.variables,
      );
      if (o.log && (step + 1) % 100 === 0)
        o.log(
          `mekd: GAN step ${step + 1}/${o.steps}, D loss ${(await dl?.data())?.[0]?.toFixed(3)}, G loss ${(await gl?.data())?.[0]?.toFixed(3)}`,
        );
      tf.dispose([x, z]);
      dl?.dispose();
      gl?.dispose();
      weights?.dispose();
    }
  } finally {
    optD.dispose();
    optG.dispose();
    tf.dispose(d.variables);
  }
}
