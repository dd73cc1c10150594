/**
 * Size and cost of a student, for choosing a model that fits an edge budget.
 *
 * FLOP convention (one forward pass of one sample, inference mode):
 *  - Conv2D, DepthwiseConv2D, SeparableConv2D, Dense: 2 x multiply-accumulates. A
 *    dot product of length K is K multiplies and K-1 adds; the bias add makes it 2K,
 *    so bias is included in the 2 x MAC figure and never counted on its own.
 *  - BatchNormalization: 2 per output element (at inference it is one scale and one
 *    shift; mean and variance fold into them ahead of time).
 *  - Max/average pooling: one op per window element per output element.
 *  - Global average/max pooling: one op per input element.
 *  - Add: (inputs - 1) per output element.
 *  - Element-wise activations (fused into a layer or standalone): 1 per element,
 *    whatever the function; 'linear' is free.
 *  - Flatten, Reshape, Dropout and InputLayer cost nothing. Layer types this module
 *    does not know are reported with 0 FLOPs and listed in `uncounted`.
 */
import * as tf from '@tensorflow/tfjs';

export interface LayerCost {
  name: string;
  className: string;
  params: number;
  flops: number;
}

export interface StudentDescription {
  /** All weights, trainable or not (BN moving statistics included); equals model.countParams(). */
  params: number;
  trainableParams: number;
  /** See the convention at the top of this module. */
  flops: number;
  /** Layers excluding the InputLayer. */
  layers: number;
  perLayer: LayerCost[];
  /** Names of layers whose class this module cannot cost. */
  uncounted: string[];
}

type Shape = (number | null)[];

const FREE = new Set([
  'InputLayer',
  'Flatten',
  'Reshape',
  'Dropout',
  'SpatialDropout1D',
  'GaussianNoise',
  'GaussianDropout',
  'AlphaDropout',
]);
const ELEMENTWISE = new Set(['ReLU', 'LeakyReLU', 'ELU', 'ThresholdedReLU', 'Softmax', 'PReLU']);

function elements(shape: Shape): number {
  // The batch axis is the first; the description is per sample.
  return shape.slice(1).reduce<number>((acc, d) => acc * (d ?? 1), 1);
}

function pair(v: unknown): [number, number] {
  if (Array.isArray(v)) return [Number(v[0]), Number(v[1] ?? v[0])];
  return [Number(v), Number(v)];
}

function activationFlops(activation: unknown, outElems: number): number {
  return activation && activation !== 'linear' ? outElems : 0;
}

function layerShapes(layer: tf.layers.Layer): { inputs: Shape[]; output: Shape } {
  const node = layer.inboundNodes[0];
  const inputs = node ? node.inputTensors.map((t) => t.shape as Shape) : [];
  const out = layer.outputShape;
  const output = (Array.isArray(out[0]) || out[0] === undefined ? ((out as Shape[])[0] ?? []) : out) as Shape;
  return { inputs, output };
}

function layerFlops(layer: tf.layers.Layer): number | null {
  const cls = layer.getClassName();
  const cfg = layer.getConfig() as Record<string, unknown>;
  const { inputs, output } = layerShapes(layer);
  const outElems = elements(output);
  const inShape = inputs[0] ?? [];
  switch (cls) {
    case 'Conv2D': {
      const [kh, kw] = pair(cfg.kernelSize);
      const cin = Number(inShape[3]);
      return 2 * outElems * kh * kw * cin + activationFlops(cfg.activation, outElems);
    }
    case 'DepthwiseConv2D': {
      const [kh, kw] = pair(cfg.kernelSize);
      return 2 * outElems * kh * kw + activationFlops(cfg.activation, outElems);
    }
    case 'SeparableConv2D': {
      const [kh, kw] = pair(cfg.kernelSize);
      const cin = Number(inShape[3]);
      const mult = Number(cfg.depthMultiplier ?? 1);
      const spatial = Number(output[1]) * Number(output[2]);
      return 2 * spatial * cin * mult * kh * kw + 2 * outElems * cin * mult + activationFlops(cfg.activation, outElems);
    }
    case 'Dense': {
      const fanIn = Number(inShape[inShape.length - 1]);
      return 2 * outElems * fanIn + activationFlops(cfg.activation, outElems);
    }
    case 'BatchNormalization':
      return 2 * outElems;
    case 'MaxPooling2D':
    case 'AveragePooling2D': {
      const [ph, pw] = pair(cfg.poolSize);
      return outElems * ph * pw;
    }
    case 'GlobalAveragePooling2D':
    case 'GlobalMaxPooling2D':
      return elements(inShape);
    case 'Add':
      return (inputs.length - 1) * outElems;
    case 'Activation':
      return activationFlops(cfg.activation, outElems);
    default:
      if (ELEMENTWISE.has(cls)) return outElems;
      if (FREE.has(cls)) return 0;
      return null;
  }
}

export function describeStudent(model: tf.LayersModel): StudentDescription {
  const perLayer: LayerCost[] = [];
  const uncounted: string[] = [];
  let flops = 0;
  for (const layer of model.layers) {
    let cost: number | null;
    if (layer instanceof tf.LayersModel) {
      cost = describeStudent(layer).flops;
    } else {
      cost = layerFlops(layer);
    }
    if (cost === null) {
      uncounted.push(layer.name);
      cost = 0;
    }
    flops += cost;
    perLayer.push({ name: layer.name, className: layer.getClassName(), params: layer.countParams(), flops: cost });
  }
  const trainableParams = model.trainableWeights.reduce((acc, w) => acc + elements([null, ...(w.shape as Shape)]), 0);
  return {
    params: model.countParams(),
    trainableParams,
    flops,
    layers: model.layers.filter((l) => l.getClassName() !== 'InputLayer').length,
    perLayer,
    uncounted,
  };
}
