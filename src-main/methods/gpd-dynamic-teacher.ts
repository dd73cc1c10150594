/**
 * The dynamic teacher of GPD (Guo et al., ICLR 2025, §3.2): the student widened r× in every hidden
 * layer. Widening copies each channel r times and divides the weights that read a copied channel by
 * r (the Net2WiderNet rule, Chen et al. 2016), so the wide net starts with exactly the student's
 * function. The student is the first C/r channels of every layer: its view reads the DT's variables
 * through slices, with incoming weights multiplied back by r — the parameters are shared, so one
 * optimizer step on the DT variables trains both, and the student is extracted with no retraining.
 *
 * Supported students: sequential stacks of conv2d / dense / max pooling / flatten with relu or linear
 * activations (lenet5, lenet5-half, mlp).
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../util/rng.ts';
import { DistillError } from '../util/errors.ts';

type Op =
  | {
      kind: 'conv';
      name: string;
      kernel: tf.Variable;
      bias: tf.Variable;
      relu: boolean;
      padding: 'same' | 'valid';
      strides: [number, number];
      wideIn: boolean;
      wideOut: boolean;
    }
  | {
      kind: 'dense';
      name: string;
      kernel: tf.Variable;
      bias: tf.Variable;
      relu: boolean;
      wideIn: boolean;
      wideOut: boolean;
      flatChannels?: number;
    }
  | { kind: 'pool'; size: [number, number]; strides: [number, number] }
  | { kind: 'flatten' };

export class UnsupportedStudentError extends DistillError {
  override name = 'UnsupportedStudentError';
  readonly code = 'unsupported-student';
}

function pair(v: unknown): [number, number] {
  return Array.isArray(v) ? [Number(v[0]), Number(v[1] ?? v[0])] : [Number(v), Number(v)];
}

/** Repeats `w` along `axis` r times (channel j of the result is channel j mod C of `w`). */
function tileAxis(w: tf.Tensor, axis: number, r: number): tf.Tensor {
  return tf.concat(
    Array.from({ length: r }, () => w),
    axis,
  );
}

export class DynamicTeacher {
  private readonly ops: Op[] = [];

  constructor(
    readonly student: tf.LayersModel,
    readonly r: number,
    rng: Rng,
    noise = 1e-4,
  ) {
    const weighted = student.layers.filter((l) => l.getWeights().length > 0);
    const lastWeighted = weighted[weighted.length - 1];
    let wideIn = false;
    let lastChannels = 0;
    let afterFlatten = false;
    for (const layer of student.layers) {
      const cls = layer.getClassName();
      const cfg = layer.getConfig() as Record<string, unknown>;
      if (cls === 'InputLayer') continue;
      if (cls === 'MaxPooling2D') {
        this.ops.push({ kind: 'pool', size: pair(cfg.poolSize), strides: pair(cfg.strides ?? cfg.poolSize) });
        continue;
      }
      if (cls === 'Flatten') {
        this.ops.push({ kind: 'flatten' });
        afterFlatten = true;
        continue;
      }
      const act = String(cfg.activation ?? 'linear');
      if ((cls !== 'Conv2D' && cls !== 'Dense') || (act !== 'relu' && act !== 'linear') || cfg.useBias === false) {
        throw new UnsupportedStudentError(
          `gpd widens conv2d/dense/max-pool/flatten stacks (lenet5, lenet5-half, mlp); layer "${layer.name}" (${cls}, ${act}) is not supported`,
        );
      }
      const [k, b] = layer.getWeights();
      const kShape = k.shape as number[];
      const wideOut = layer !== lastWeighted;
      const inAxis = k.rank - 2;
      const outAxis = k.rank - 1;
      const kernel = tf.tidy(() => {
        let w: tf.Tensor = k;
        if (wideIn) {
          if (cls === 'Dense' && afterFlatten && lastChannels) {
            // Rows of a dense kernel after flatten are (position, channel) pairs: widen the channel part.
            const positions = kShape[0] / lastChannels;
            w = tf.reshape(tileAxis(tf.reshape(w, [positions, lastChannels, kShape[1]]), 1, r), [
              positions * lastChannels * r,
              kShape[1],
            ]);
          } else {
            w = tileAxis(w, inAxis, r);
          }
          w = tf.div(w, r);
        }
        if (wideOut) w = tileAxis(w, outAxis, r);
        if (cls === 'Dense' && afterFlatten && wideIn && lastChannels) {
          // The student's rows are (position, channel < C) pairs: add the noise in that layout.
          const positions = kShape[0] / lastChannels;
          const wide3 = tf.reshape(w, [positions, lastChannels * r, (w.shape as number[])[1]]);
          return tf.reshape(addNoiseOutsideStudent(wide3, [positions, lastChannels, kShape[1]], rng, noise), w.shape);
        }
        return addNoiseOutsideStudent(w, k.shape, rng, noise);
      });
      const bias = tf.tidy(() => (wideOut ? tileAxis(b, 0, r) : b.clone()));
      const name = layer.name;
      if (cls === 'Conv2D') {
        this.ops.push({
          kind: 'conv',
          name,
          kernel: tf.variable(kernel),
          bias: tf.variable(bias),
          relu: act === 'relu',
          padding: cfg.padding === 'same' ? 'same' : 'valid',
          strides: pair(cfg.strides),
          wideIn,
          wideOut,
        });
        lastChannels = kShape[3];
      } else {
        this.ops.push({
          kind: 'dense',
          name,
          kernel: tf.variable(kernel),
          bias: tf.variable(bias),
          relu: act === 'relu',
          wideIn,
          wideOut,
          flatChannels: afterFlatten && wideIn && lastChannels ? lastChannels : undefined,
        });
        lastChannels = 0;
        afterFlatten = false;
      }
      tf.dispose([kernel, bias]);
      wideIn = wideOut;
    }
  }

  get variables(): tf.Variable[] {
    return this.ops.flatMap((o) => (o.kind === 'conv' || o.kind === 'dense' ? [o.kernel, o.bias] : []));
  }

  /** Logits of the wide dynamic teacher. */
  forwardTeacher(x: tf.Tensor4D): tf.Tensor2D {
    return this.forward(x, (o) => [o.kernel, o.bias]);
  }

  /** Logits of the student: the first C/r channels of every layer, incoming weights × r. */
  forwardStudent(x: tf.Tensor4D): tf.Tensor2D {
    return this.forward(x, (o) => this.studentWeights(o));
  }

  /** Writes the student's slices into the zoo model, so evaluation, checkpoints and export see it. */
  copyIntoStudent(): void {
    for (const o of this.ops) {
      if (o.kind !== 'conv' && o.kind !== 'dense') continue;
      // Clones: a slice that is the whole variable (the logits bias) must not be disposed below.
      const w = tf.tidy(() => this.studentWeights(o).map((t) => tf.clone(t)));
      this.student.getLayer(o.name).setWeights(w);
      tf.dispose(w);
    }
  }

  private studentWeights(o: Extract<Op, { kind: 'conv' | 'dense' }>): [tf.Tensor, tf.Tensor] {
    const r = this.r;
    const shape = o.kernel.shape as number[];
    const flatChannels = o.kind === 'dense' ? o.flatChannels : undefined;
    const inAxis = shape.length - 2;
    const outAxis = shape.length - 1;
    let w: tf.Tensor = o.kernel;
    if (o.wideIn) {
      if (flatChannels) {
        const wideC = flatChannels * r;
        const positions = shape[0] / wideC;
        w = tf.reshape(
          tf.slice(tf.reshape(w, [positions, wideC, shape[1]]), [0, 0, 0], [positions, flatChannels, shape[1]]),
          [positions * flatChannels, shape[1]],
        );
      } else {
        const size = w.shape.map((d, i) => (i === inAxis ? d / r : d));
        w = tf.slice(
          w,
          w.shape.map(() => 0),
          size,
        );
      }
      w = tf.mul(w, r);
    }
    let b: tf.Tensor = o.bias;
    if (o.wideOut) {
      const size = w.shape.map((d, i) => (i === outAxis ? shape[outAxis] / r : d));
      w = tf.slice(
        w,
        w.shape.map(() => 0),
        size,
      );
      b = tf.slice(b, [0], [o.bias.shape[0] / r]);
    }
    return [w, b];
  }

  private forward(
    x: tf.Tensor4D,
    weights: (o: Extract<Op, { kind: 'conv' | 'dense' }>) => [tf.Tensor, tf.Tensor],
  ): tf.Tensor2D {
    let h: tf.Tensor = x;
    for (const o of this.ops) {
      if (o.kind === 'pool') h = tf.maxPool(h as tf.Tensor4D, o.size, o.strides, 'valid');
      else if (o.kind === 'flatten') h = tf.reshape(h, [h.shape[0], -1]);
      else {
        const [w, b] = weights(o);
        h =
          o.kind === 'conv'
            ? tf.add(tf.conv2d(h as tf.Tensor4D, w as tf.Tensor4D, o.strides, o.padding), b)
            : tf.add(tf.matMul(h as tf.Tensor2D, w as tf.Tensor2D), b);
        if (o.relu) h = tf.relu(h);
      }
    }
    return h as tf.Tensor2D;
  }

  dispose(): void {
    tf.dispose(this.variables);
  }
}

/**
 * Tiny noise on the copies only (GPD §3.2 breaks the symmetry of the copies with small noise); the
 * student's own slice (the first block along every axis) stays exact, so it starts where it was.
 */
function addNoiseOutsideStudent(w: tf.Tensor, studentShape: number[], rng: Rng, scale: number): tf.Tensor {
  if (scale <= 0) return w.clone();
  // The noise depends on positions only, so it is built on the host and added on the device: no
  // read of w, which the WebGPU backend cannot do synchronously in Node.
  const shape = w.shape;
  const noise = new Float32Array(w.size);
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  for (let i = 0; i < noise.length; i++) {
    let inside = true;
    for (let d = 0; d < shape.length && inside; d++) {
      const idx = Math.floor(i / strides[d]) % shape[d];
      if (idx >= studentShape[d]) inside = false;
    }
    if (!inside) noise[i] = scale * rng.normal();
  }
  return tf.add(w, tf.tensor(noise, shape));
}
