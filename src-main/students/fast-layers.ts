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
 * - Conv2D with a ReLU or no activation, with or without a bias: while gradients are recorded tfjs
 *   splits fused.conv2d with a non-linear activation into conv2d, a broadcast bias add (slow on
 *   wasm: 540 µs on LeNet's first layer) and relu, and the linear fused op (what a Conv2D without an
 *   activation runs, e.g. MobileNet-tiny's stem and pointwise convolutions) has a custom gradient that
 *   always computes the input's gradient. For a model's first layer nobody uses it: on LeNet's first
 *   layer it was the costliest kernel of the backward pass, on MobileNet-tiny's strided stem about a
 *   fifth of the whole step. Here the layer runs the FusedConv2D kernel itself, bias and ReLU
 *   included, and the kernel gets an ordinary gradient whose parts are computed only when the tape
 *   asks for them.
 * - Dense: the same split happens to fused.matMul (matMul, a broadcast bias add, relu), and its
 *   custom gradient also always computes the input's gradient (an MLP's first layer: a 784-wide
 *   product nobody uses). So Dense runs the _FusedMatMul kernel itself, with a lazy gradient.
 * - ReLU with maxValue 6: tfjs applies relu() then clipByValue(), two ops and two masks in the
 *   backward pass; relu6() is the same function in one op.
 */
import * as tf from '@tensorflow/tfjs';
import { BATCH_NORM_TRAIN, hasBatchNormKernels, maskedGradient } from '../backends/heap-kernels.ts';

type LayerArgs = Record<string, unknown>;
type LayerClass = new (args: LayerArgs) => tf.layers.Layer;

const BatchNormalizationBase = Object.getPrototypeOf(tf.layers.batchNormalization({})).constructor as LayerClass;
const ReLUBase = Object.getPrototypeOf(tf.layers.reLU({})).constructor as LayerClass;
const DenseBase = Object.getPrototypeOf(tf.layers.dense({ units: 1 })).constructor as LayerClass;
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
    return tf.fused.depthwiseConv2d({
      x,
      filter: tf.reshape(a, [1, 1, C, 1]) as tf.Tensor4D,
      strides: 1,
      pad: 'valid',
      bias: b,
    });
  }
  return tf.add(tf.mul(x, a), b);
}

/**
 * Training-mode batch normalisation over N, H and W with batch statistics. Returns the output
 * and the batch mean and (biased) variance, which the caller owns and must dispose.
 */
export function batchNormTraining(
  x: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
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
    const gamma = self.gamma.read() as tf.Tensor1D;
    const beta = self.beta.read() as tf.Tensor1D;
    if (hasBatchNormKernels(x.shape[3] ?? 0)) {
      // One kernel: the output, the batch statistics and the moving averages' new values.
      return tf.tidy(() => {
        const outs = tf
          .engine()
          .runKernel(
            BATCH_NORM_TRAIN,
            { x, gamma, beta, movingMean: self.movingMean.read(), movingVariance: self.movingVariance.read() },
            { epsilon: self.epsilon, momentum: self.momentum },
          ) as tf.Tensor[];
        self.movingMean.write(outs[4]);
        self.movingVariance.write(outs[5]);
        return outs[0];
      });
    }
    return tf.tidy(() => {
      const { y, mean, variance } = batchNormTraining(x as tf.Tensor4D, gamma, beta, self.epsilon);
      // The moving averages exactly as tfjs-layers updates them.
      const decay = 1 - self.momentum;
      for (const [variable, value] of [
        [self.movingMean, mean],
        [self.movingVariance, variance],
      ] as const) {
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

/** What Conv2D and Dense keep for the fused call: weights, bias and activation. */
interface FusedLayerInternals {
  useBias: boolean;
  kernel: tf.LayerVariable;
  bias: tf.LayerVariable | null;
  activation: { getClassName(): string };
}

interface Conv2DInternals extends FusedLayerInternals {
  rank: number;
  dataFormat: string;
  padding: string;
  strides: number[];
  dilationRate: number[];
}

export class FastConv2D extends Conv2DBase {
  static readonly className = 'Conv2D';

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[] {
    const self = this as unknown as Conv2DInternals;
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    const activation = self.activation.getClassName().toLowerCase();
    const dilations = self.dilationRate;
    if (
      (activation !== 'relu' && activation !== 'linear') ||
      self.rank !== 2 ||
      self.dataFormat !== 'channelsLast' ||
      x.rank !== 4 ||
      x.dtype !== 'float32' ||
      (self.padding !== 'same' && self.padding !== 'valid') ||
      dilations.some((d) => d !== 1)
    ) {
      return super.call(inputs, kwargs);
    }
    const attrs: tf.FusedConv2DAttrs = {
      strides: self.strides as [number, number],
      pad: self.padding as 'same' | 'valid',
      dataFormat: 'NHWC',
      dilations: [1, 1],
      dimRoundingMode: undefined as unknown as 'floor',
      activation: activation as 'relu' | 'linear',
    };
    // Without a bias the kernel gets no bias input at all, so the tape asks for no bias gradient.
    const kernelInputs: tf.NamedTensorMap = { x: x as tf.Tensor4D, filter: self.kernel.read() };
    if (self.useBias && self.bias != null) kernelInputs.bias = self.bias.read();
    return tf.engine().runKernel(tf.FusedConv2D, kernelInputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
  }
}

/** The gradient before a fused kernel's linear or ReLU activation, from the one after it and the output y. */
function preActivationGradient<T extends tf.Tensor>(kernel: string, dy: T, y: T, activation: string | undefined): T {
  if (activation === 'relu') return (maskedGradient(dy, y, 0, Infinity) as T | undefined) ?? tf.mul(dy, tf.step(y));
  if (activation === 'linear' || activation == null) return dy;
  throw new Error(`gradient of ${kernel}: activation '${activation}' is not implemented`);
}

/**
 * The gradient of the FusedConv2D kernel (tfjs registers none: its fused op wraps the kernel in a
 * custom gradient instead). Each input's part is a separate closure, so the tape skips the input's
 * gradient where the input does not depend on a variable. Only NHWC, unit dilation and the linear
 * and ReLU activations, which is what FastConv2D runs.
 */
export const fusedConv2DGradient: tf.GradConfig = {
  kernelName: tf.FusedConv2D,
  inputsToSave: ['x', 'filter'],
  outputsToSave: [true],
  gradFunc: (dyIn, saved, attrsIn) => {
    const [x, filter, y] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
    const a = attrsIn as unknown as tf.FusedConv2DAttrs;
    const dilations = typeof a.dilations === 'number' ? [a.dilations, a.dilations] : (a.dilations ?? [1, 1]);
    if (a.dataFormat !== 'NHWC' || dilations[0] !== 1 || dilations[1] !== 1) {
      throw new Error(
        `gradient of FusedConv2D: only NHWC with unit dilation is implemented (got ${a.dataFormat}, dilations ${dilations.join('x')})`,
      );
    }
    const g = preActivationGradient(tf.FusedConv2D, dyIn as tf.Tensor4D, y, a.activation);
    const conv = { strides: a.strides, pad: a.pad, dataFormat: a.dataFormat, dimRoundingMode: a.dimRoundingMode };
    return {
      x: () =>
        tf.engine().runKernel(tf.Conv2DBackpropInput, { dy: g, filter }, {
          ...conv,
          inputShape: x.shape,
        } as unknown as tf.NamedAttrMap) as tf.Tensor,
      filter: () =>
        tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy: g }, {
          ...conv,
          filterShape: filter.shape,
        } as unknown as tf.NamedAttrMap) as tf.Tensor,
      bias: () => tf.sum(g, [0, 1, 2]),
    };
  },
};
if (tf.getGradient(tf.FusedConv2D) == null) tf.registerGradient(fusedConv2DGradient);

export class FastDense extends DenseBase {
  static readonly className = 'Dense';

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[] {
    const self = this as unknown as FusedLayerInternals;
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    const activation = self.activation.getClassName().toLowerCase();
    if (
      (activation !== 'relu' && activation !== 'linear') ||
      !self.useBias ||
      self.bias == null ||
      x.rank !== 2 ||
      x.dtype !== 'float32'
    ) {
      return super.call(inputs, kwargs);
    }
    const attrs: tf._FusedMatMulAttrs = {
      transposeA: false,
      transposeB: false,
      activation: activation as 'relu' | 'linear',
    };
    // The kernel takes batched (3-D) operands; reshapes are free aliases.
    const [m, k] = x.shape;
    return tf.tidy(() => {
      const kernel = self.kernel.read();
      const a = tf.reshape(x, [1, m, k]);
      const b = tf.reshape(kernel, [1, ...kernel.shape]);
      const y = tf
        .engine()
        .runKernel(
          tf._FusedMatMul,
          { a, b, bias: self.bias!.read() },
          attrs as unknown as tf.NamedAttrMap,
        ) as tf.Tensor3D;
      return tf.reshape(y, [m, y.shape[2]]);
    });
  }
}

/**
 * The gradient of the _FusedMatMul kernel for batched (3-D) operands of equal batch size without
 * transposes, a 1-D bias and a linear or ReLU activation (what FastDense runs); like
 * fusedConv2DGradient, one lazy closure per input.
 */
export const fusedMatMulGradient: tf.GradConfig = {
  kernelName: tf._FusedMatMul,
  inputsToSave: ['a', 'b', 'bias'],
  outputsToSave: [true],
  gradFunc: (dyIn, saved, attrsIn) => {
    const [a, b, bias, y] = saved as [tf.Tensor3D, tf.Tensor3D, tf.Tensor | undefined, tf.Tensor3D];
    const at = attrsIn as unknown as tf._FusedMatMulAttrs;
    if (
      at.transposeA ||
      at.transposeB ||
      a.rank !== 3 ||
      b.rank !== 3 ||
      a.shape[0] !== b.shape[0] ||
      (bias != null && bias.rank !== 1)
    ) {
      throw new Error(
        'gradient of _FusedMatMul: only 3-D operands of equal batch, no transposes and a 1-D bias are implemented',
      );
    }
    const g = preActivationGradient(tf._FusedMatMul, dyIn as tf.Tensor3D, y, at.activation);
    return {
      a: () => tf.matMul(g, b, false, true),
      b: () => tf.matMul(a, g, true, false),
      bias: () => tf.sum(g, [0, 1]),
    };
  },
};
if (tf.getGradient(tf._FusedMatMul) == null) tf.registerGradient(fusedMatMulGradient);

// Loading a saved model now builds these classes for their original names.
tf.serialization.registerClass(
  FastBatchNormalization as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>,
);
tf.serialization.registerClass(
  FastConv2D as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>,
);
tf.serialization.registerClass(
  FastDense as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>,
);
tf.serialization.registerClass(
  FastReLU as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>,
);

export function batchNormalization(args: Parameters<typeof tf.layers.batchNormalization>[0]): tf.layers.Layer {
  return new FastBatchNormalization(args as LayerArgs);
}

export function reLU(args: Parameters<typeof tf.layers.reLU>[0]): tf.layers.Layer {
  return new FastReLU(args as LayerArgs);
}

export function conv2d(args: Parameters<typeof tf.layers.conv2d>[0]): tf.layers.Layer {
  return new FastConv2D(args as unknown as LayerArgs);
}

export function dense(args: Parameters<typeof tf.layers.dense>[0]): tf.layers.Layer {
  return new FastDense(args as unknown as LayerArgs);
}
