/**
 * Drop-in subclasses of three tfjs-layers classes whose training path is slow on the wasm backend.
 * They keep the class names, configs, weights and inference path of the originals, so saved
 * models, the ONNX exporter and every backend see exactly the same layers; only the training
 * forward/backward is computed differently (same math).
 *
 * - BatchNormalization: tfjs builds the training step from moments() and FusedBatchNorm, whose
 *   gradient chain runs about a dozen full-size ops, broadcasts and a Tile per layer, and wasm's
 *   FusedBatchNorm itself is a slow C loop (732 µs on 64x14x14x16, against 60 µs for the same
 *   per-channel affine map as a 1x1 depthwise convolution). Here the step is one custom-gradient
 *   function with the textbook backward pass
 *       dx = γ/σ · (dy − mean(dy) − x̂ · mean(dy · x̂)),  dγ = Σ dy · x̂,  dβ = Σ dy.
 * - Conv2D with a ReLU: while gradients are recorded tfjs splits fused.conv2d with a non-linear
 *   activation into conv2d, a broadcast bias add (slow on wasm: 540 µs on LeNet's first layer)
 *   and relu; only a linear activation stays fused. So the bias rides in the fused convolution
 *   and the ReLU follows as its own op.
 * - ReLU with maxValue 6: tfjs applies relu() then clipByValue(), two ops and two masks in the
 *   backward pass; relu6() is the same function in one op.
 */
import * as tf from '@tensorflow/tfjs';

type LayerArgs = Record<string, unknown>;
type LayerClass = new (args: LayerArgs) => tf.layers.Layer;

const BatchNormalizationBase = Object.getPrototypeOf(tf.layers.batchNormalization({})).constructor as LayerClass;
const ReLUBase = Object.getPrototypeOf(tf.layers.reLU({})).constructor as LayerClass;
const Conv2DBase = Object.getPrototypeOf(tf.layers.conv2d({ filters: 1, kernelSize: 1 })).constructor as LayerClass;

interface BatchNormInternals {
  axis: number;
  momentum: number;
  epsilon: number;
  center: boolean;
  scale: boolean;
  gamma: tf.LayerVariable;
  beta: tf.LayerVariable;
  movingMean: tf.LayerVariable;
  movingVariance: tf.LayerVariable;
}

/** y = x · a + b per channel (last axis) of a 4-D NHWC tensor. */
function affine(x: tf.Tensor4D, a: tf.Tensor1D, b: tf.Tensor1D): tf.Tensor4D {
  if (tf.getBackend() === 'wasm') {
    // XNNPACK's depthwise convolution with a 1x1 filter and bias: one pass, no broadcasting.
    const C = a.shape[0];
    return tf.fused.depthwiseConv2d({ x, filter: tf.reshape(a, [1, 1, C, 1]) as tf.Tensor4D, strides: 1, pad: 'valid', bias: b });
  }
  return tf.add(tf.mul(x, a), b);
}

/**
 * Training-mode batch normalisation over N, H and W with batch statistics. Returns the output
 * and the batch mean and (biased) variance, which the caller owns and must dispose.
 */
export function batchNormTraining(
  x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, epsilon: number,
): { y: tf.Tensor4D; mean: tf.Tensor1D; variance: tf.Tensor1D } {
  let mean: tf.Tensor1D | undefined;
  let variance: tf.Tensor1D | undefined;
  const axes = [0, 1, 2];
  const f = tf.customGrad((...args: unknown[]) => {
    const [xi, g, b, save] = args as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.GradSaveFunc];
    const m = tf.mean(xi, axes) as tf.Tensor1D;
    const xc = affine(xi, tf.onesLike(m), tf.neg(m));
    const v = tf.mean(tf.square(xc), axes) as tf.Tensor1D;
    const invStd = tf.rsqrt(tf.add(v, epsilon)) as tf.Tensor1D;
    const gain = tf.mul(g, invStd) as tf.Tensor1D;
    mean = tf.keep(m);
    variance = tf.keep(v);
    save([xc, invStd, gain]);
    return {
      value: affine(xc, gain, b),
      gradFunc: (dyIn: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const dy = dyIn as tf.Tensor4D;
        const [xcS, invS, gainS] = saved as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D];
        const count = dy.size / dy.shape[3];
        const sumDy = tf.sum(dy, axes) as tf.Tensor1D;
        const sumDyXc = tf.sum(tf.mul(dy, xcS), axes) as tf.Tensor1D;
        // dx = gain·dy − gain·mean(dy) − xc · gain·invStd²·mean(dy·xc)
        const slope = tf.neg(tf.mul(tf.mul(gainS, tf.square(invS)), tf.div(sumDyXc, count))) as tf.Tensor1D;
        const shift = tf.neg(tf.mul(gainS, tf.div(sumDy, count))) as tf.Tensor1D;
        const dx = tf.add(affine(dy, gainS, tf.zerosLike(gainS) as tf.Tensor1D), affine(xcS, slope, shift));
        return [dx, tf.mul(sumDyXc, invS), sumDy];
      },
    };
  });
  const y = f(x, gamma, beta) as tf.Tensor4D;
  return { y, mean: mean!, variance: variance! };
}

export class FastBatchNormalization extends BatchNormalizationBase {
  static readonly className = 'BatchNormalization';

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[] {
    const training = kwargs['training'] === true;
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    const self = this as unknown as BatchNormInternals;
    const axis = self.axis >= 0 ? self.axis : self.axis + x.rank;
    if (!training || x.rank !== 4 || axis !== 3 || !self.center || !self.scale || x.dtype !== 'float32') {
      return super.call(inputs, kwargs);
    }
    return tf.tidy(() => {
      const { y, mean, variance } = batchNormTraining(x as tf.Tensor4D, self.gamma.read() as tf.Tensor1D, self.beta.read() as tf.Tensor1D, self.epsilon);
      // The moving averages exactly as tfjs-layers updates them.
      const decay = 1 - self.momentum;
      for (const [variable, value] of [[self.movingMean, mean], [self.movingVariance, variance]] as const) {
        const orig = variable.read();
        variable.write(tf.sub(orig, tf.mul(tf.sub(orig, value), decay)));
      }
      tf.dispose([mean, variance]);
      return y;
    });
  }
}

export class FastReLU extends ReLUBase {
  static readonly className = 'ReLU';

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[] {
    const maxValue = (this as unknown as { maxValue: number | null }).maxValue;
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    if (maxValue !== 6) return super.call(inputs, kwargs);
    return tf.relu6(x);
  }
}

interface Conv2DInternals {
  rank: number;
  dataFormat: string;
  padding: string;
  strides: number[];
  dilationRate: number[];
  useBias: boolean;
  kernel: tf.LayerVariable;
  bias: tf.LayerVariable | null;
  activation: { getClassName(): string };
}

export class FastConv2D extends Conv2DBase {
  static readonly className = 'Conv2D';

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[] {
    const self = this as unknown as Conv2DInternals;
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    const relu = self.activation.getClassName().toLowerCase() === 'relu';
    if (!relu || !self.useBias || self.bias == null || self.rank !== 2 || self.dataFormat !== 'channelsLast'
      || x.rank !== 4 || (self.padding !== 'same' && self.padding !== 'valid')) {
      return super.call(inputs, kwargs);
    }
    return tf.tidy(() => tf.relu(tf.fused.conv2d({
      x: x as tf.Tensor4D, filter: self.kernel.read() as tf.Tensor4D, strides: self.strides as [number, number],
      pad: self.padding as 'same' | 'valid', dilations: self.dilationRate as [number, number], dataFormat: 'NHWC',
      bias: self.bias!.read(), activation: 'linear',
    })));
  }
}

// Loading a saved model now builds these classes for 'BatchNormalization' and 'ReLU'.
tf.serialization.registerClass(FastBatchNormalization as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);
tf.serialization.registerClass(FastConv2D as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);
tf.serialization.registerClass(FastReLU as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);

export function batchNormalization(args: Parameters<typeof tf.layers.batchNormalization>[0]): tf.layers.Layer {
  return new FastBatchNormalization(args as LayerArgs);
}

export function reLU(args: Parameters<typeof tf.layers.reLU>[0]): tf.layers.Layer {
  return new FastReLU(args as LayerArgs);
}

export function conv2d(args: Parameters<typeof tf.layers.conv2d>[0]): tf.layers.Layer {
  return new FastConv2D(args as unknown as LayerArgs);
}
