/**
 * Translates a tfjs LayersModel (Sequential or functional) into an ONNX graph.
 *
 * tfjs computes in NHWC; ONNX's Conv and pooling operators are defined on NCHW
 * (operator spec: "X ... has size (N x C x H x W)"). Every value therefore carries a
 * layout tag: 'native' means the element order tfjs would have, 'NCHW' means a 4-D
 * tensor whose channel axis has been moved to position 1. Transposes are inserted
 * only where an operator needs the other layout, and each conversion of a value is
 * emitted once and reused.
 *
 * Padding is always written out explicitly: the ONNX Conv/pool specs carry a
 * "DEPRECATION NOTE: auto_pad is only intended to support legacy uses" and encourage
 * explicit pads, and computing them with TF's own formula makes the match with tfjs
 * hold by construction instead of depending on how a runtime reads SAME_UPPER.
 */
import * as tf from '@tensorflow/tfjs';
import { OnnxGraphBuilder, float } from './onnx-graph-builder.ts';
import { onnx, type OnnxTypes } from './onnx-proto.ts';

export type InputLayout = 'NCHW' | 'NHWC';

export interface ConvertOptions {
  opset: number;
  inputLayout: InputLayout;
  inputName: string;
  outputName: string;
}

export interface ConvertedGraph {
  graph: OnnxTypes.IGraphProto;
  inputShape: (number | string)[];
  outputShape: (number | string)[];
  nodeCount: number;
}

type Layout = 'native' | 'NCHW';
type Shape = (number | null)[];
type LayerNode = tf.layers.Layer['inboundNodes'][number];

interface Value {
  name: string;
  layout: Layout;
  /** The tfjs (native, NHWC) shape, batch first. */
  shape: Shape;
}

/** The dynamic batch axis is named, so runtimes accept any batch size. */
const BATCH_DIM = 'N';

const SUPPORTED = [
  'InputLayer',
  'Conv2D',
  'DepthwiseConv2D',
  'SeparableConv2D',
  'Dense',
  'BatchNormalization',
  'MaxPooling2D',
  'AveragePooling2D',
  'GlobalAveragePooling2D',
  'GlobalMaxPooling2D',
  'Flatten',
  'Add',
  'Multiply',
  'Concatenate',
  'Activation',
  'ReLU',
  'LeakyReLU',
  'ELU',
  'Softmax',
  'Dropout',
  'SpatialDropout1D',
  'GaussianNoise',
  'GaussianDropout',
  'AlphaDropout',
];
const CONV_CLASSES = new Set(['Conv2D', 'DepthwiseConv2D', 'SeparableConv2D']);
/** Layers that only act during training and are identities at inference. */
const INFERENCE_IDENTITY = new Set(['Dropout', 'SpatialDropout1D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout']);

/** BatchNormalization reduced to a per-channel affine map y = x*scale + shift. */
interface BnAffine {
  scale: Float64Array;
  shift: Float64Array;
}

export function convertLayersModel(model: tf.LayersModel, opts: ConvertOptions): ConvertedGraph {
  return new Converter(model, opts).run();
}

function pair(v: unknown, what: string, layer: tf.layers.Layer): [number, number] {
  const arr = Array.isArray(v) ? v : [v, v];
  const out: [number, number] = [Number(arr[0]), Number(arr.length > 1 ? arr[1] : arr[0])];
  if (!out.every((x) => Number.isInteger(x) && x > 0)) {
    throw new Error(`ONNX export: layer "${layer.name}" has an invalid ${what}: ${JSON.stringify(v)}`);
  }
  return out;
}

/**
 * Begin/end padding for one spatial axis, exactly as TensorFlow computes 'SAME':
 * the output is ceil(in/stride) and any odd leftover padding goes at the end.
 */
export function tfPads(
  padding: string,
  inSize: number,
  kernel: number,
  stride: number,
  dilation: number,
): [number, number] {
  if (padding === 'valid') return [0, 0];
  if (padding !== 'same') throw new Error(`ONNX export: padding "${padding}" is not supported`);
  const effective = (kernel - 1) * dilation + 1;
  const total = Math.max((Math.ceil(inSize / stride) - 1) * stride + effective - inSize, 0);
  const begin = Math.floor(total / 2);
  return [begin, total - begin];
}

class Converter {
  private readonly b = new OnnxGraphBuilder();
  private readonly values = new Map<number, Value>();
  private readonly layoutCache = new Map<string, Value>();
  /** Conv node -> the BN node folded into it. */
  private readonly foldInto = new Map<LayerNode, LayerNode>();
  private readonly foldedBn = new Set<LayerNode>();
  private readonly consumers = new Map<number, number>();

  constructor(
    private readonly model: tf.LayersModel,
    private readonly opts: ConvertOptions,
  ) {}

  run(): ConvertedGraph {
    const { model, opts } = this;
    if (model.inputs.length !== 1 || model.outputs.length !== 1) {
      throw new Error(
        `ONNX export supports single-input single-output models; "${model.name}" has ${model.inputs.length} inputs and ${model.outputs.length} outputs`,
      );
    }
    if (opts.inputName === opts.outputName) throw new Error('ONNX export: inputName and outputName must differ');
    this.b.reserve(opts.inputName, opts.outputName);

    const input = model.inputs[0];
    const inShape = input.shape as Shape;
    if (inShape.slice(1).some((d) => d === null)) {
      throw new Error(`ONNX export needs a static input shape apart from the batch axis; got [${inShape.join(', ')}]`);
    }
    const dims = inShape.slice(1) as number[];
    let onnxInputShape: (number | string)[];
    if (dims.length === 3 && opts.inputLayout === 'NCHW') {
      onnxInputShape = [BATCH_DIM, dims[2], dims[0], dims[1]];
      this.values.set(input.id, { name: opts.inputName, layout: 'NCHW', shape: inShape });
    } else {
      onnxInputShape = [BATCH_DIM, ...dims];
      this.values.set(input.id, { name: opts.inputName, layout: 'native', shape: inShape });
    }

    const order = this.topologicalNodes();
    this.planBnFolding(order);
    for (const node of order) this.emitNode(node);

    const last = this.values.get(model.outputs[0].id);
    if (!last) throw new Error('ONNX export: the model output was never produced (disconnected graph?)');
    const out = this.toLayout(last, 'native');
    if (this.b.isNodeOutput(out.name)) {
      this.b.rename(out.name, opts.outputName);
    } else {
      this.b.node('Identity', [out.name], 'output_identity', {}, opts.outputName);
    }
    const outputShape: (number | string)[] = [BATCH_DIM, ...(out.shape.slice(1) as number[])];

    const graph: OnnxTypes.IGraphProto = {
      name: model.name,
      node: this.b.nodes,
      initializer: this.b.initializers,
      input: [valueInfo(opts.inputName, onnxInputShape)],
      output: [valueInfo(opts.outputName, outputShape)],
    };
    return { graph, inputShape: onnxInputShape, outputShape, nodeCount: this.b.nodes.length };
  }

  /**
   * Layer-call nodes reachable from the model output, inputs before consumers. Walking
   * the graph from the output (rather than trusting model.layers) picks exactly the
   * nodes of this model even when a layer object also appears in another model.
   */
  private topologicalNodes(): LayerNode[] {
    const inputIds = new Set(this.model.inputs.map((t) => t.id));
    const visited = new Set<LayerNode>();
    const onStack = new Set<LayerNode>();
    const order: LayerNode[] = [];
    const visitTensor = (t: tf.SymbolicTensor): void => {
      if (inputIds.has(t.id)) return;
      const node = t.sourceLayer.inboundNodes[t.nodeIndex];
      if (!node) throw new Error(`ONNX export: tensor "${t.name}" has no producing node`);
      if (node.outboundLayer.getClassName() === 'InputLayer') {
        throw new Error(`ONNX export: input "${t.name}" is not an input of model "${this.model.name}"`);
      }
      if (visited.has(node)) return;
      if (onStack.has(node)) throw new Error('ONNX export: the layer graph has a cycle');
      onStack.add(node);
      for (const x of node.inputTensors) {
        this.consumers.set(x.id, (this.consumers.get(x.id) ?? 0) + 1);
        visitTensor(x);
      }
      onStack.delete(node);
      visited.add(node);
      order.push(node);
    };
    for (const t of this.model.outputs) {
      this.consumers.set(t.id, (this.consumers.get(t.id) ?? 0) + 1);
      visitTensor(t);
    }
    return order;
  }

  /**
   * A BN can be folded into the convolution that feeds it when the conv has no
   * activation of its own and nothing else reads the conv's raw output; otherwise
   * the pre-BN value would be lost and BN is emitted as an ONNX operator instead.
   */
  private planBnFolding(order: LayerNode[]): void {
    for (const node of order) {
      const bn = node.outboundLayer;
      if (bn.getClassName() !== 'BatchNormalization') continue;
      const x = node.inputTensors[0];
      if (x.shape.length !== 4 || !this.isChannelAxis(bn, 4)) continue;
      const producer = x.sourceLayer.inboundNodes[x.nodeIndex];
      if (!producer || !order.includes(producer)) continue;
      const conv = producer.outboundLayer;
      if (!CONV_CLASSES.has(conv.getClassName())) continue;
      const cfg = conv.getConfig() as Record<string, unknown>;
      if ((cfg.activation ?? 'linear') !== 'linear') continue;
      if (producer.outputTensors.length !== 1 || (this.consumers.get(x.id) ?? 0) !== 1) continue;
      if (this.foldInto.has(producer)) continue;
      this.foldInto.set(producer, node);
      this.foldedBn.add(node);
    }
  }

  private isChannelAxis(bn: tf.layers.Layer, rank: number): boolean {
    const axis = (bn.getConfig() as Record<string, unknown>).axis;
    const a = Array.isArray(axis) ? (axis.length === 1 ? Number(axis[0]) : NaN) : Number(axis ?? -1);
    return a === -1 || a === rank - 1;
  }

  private input(node: LayerNode, i = 0): Value {
    const t = node.inputTensors[i];
    const v = t && this.values.get(t.id);
    if (!v) throw new Error(`ONNX export: input ${i} of layer "${node.outboundLayer.name}" is not available`);
    return v;
  }

  private setOutput(node: LayerNode, v: Omit<Value, 'shape'>): void {
    const t = node.outputTensors[0];
    this.values.set(t.id, { ...v, shape: t.shape as Shape });
  }

  private toLayout(v: Value, target: Layout): Value {
    if (v.layout === target) return v;
    if (v.shape.length !== 4) {
      throw new Error(`ONNX export: cannot move a rank-${v.shape.length} tensor to ${target}`);
    }
    const key = `${v.name}->${target}`;
    const cached = this.layoutCache.get(key);
    if (cached) return cached;
    // Transpose perm maps output axis i to input axis perm[i] (ONNX spec).
    const perm = target === 'NCHW' ? [0, 3, 1, 2] : [0, 2, 3, 1];
    const name = this.b.node('Transpose', [v.name], `${v.name}_to_${target === 'NCHW' ? 'nchw' : 'nhwc'}`, { perm });
    const out: Value = { name, layout: target, shape: v.shape };
    this.layoutCache.set(key, out);
    return out;
  }

  private emitNode(node: LayerNode): void {
    const layer = node.outboundLayer;
    const cls = layer.getClassName();
    const cfg = layer.getConfig() as Record<string, unknown>;
    if (typeof cfg.dataFormat === 'string' && cfg.dataFormat !== 'channelsLast') {
      throw new Error(
        `ONNX export: layer "${layer.name}" (${cls}) uses dataFormat ${cfg.dataFormat}; only channelsLast is supported`,
      );
    }
    if (node.outputTensors.length !== 1) {
      throw new Error(
        `ONNX export: layer "${layer.name}" (${cls}) has ${node.outputTensors.length} outputs; only single-output layers are supported`,
      );
    }
    switch (cls) {
      case 'Conv2D':
      case 'DepthwiseConv2D':
      case 'SeparableConv2D':
        return this.emitConv(node, cls, cfg);
      case 'Dense':
        return this.emitDense(node, cfg);
      case 'BatchNormalization':
        return this.emitBatchNorm(node, cfg);
      case 'MaxPooling2D':
      case 'AveragePooling2D':
        return this.emitPool(node, cls, cfg);
      case 'GlobalAveragePooling2D':
      case 'GlobalMaxPooling2D': {
        const x = this.toLayout(this.input(node), 'NCHW');
        const op = cls === 'GlobalAveragePooling2D' ? 'GlobalAveragePool' : 'GlobalMaxPool';
        const pooled = this.b.node(op, [x.name], layer.name);
        if (cfg.keepDims === true) return this.setOutput(node, { name: pooled, layout: 'NCHW' });
        // ONNX keeps the [N, C, 1, 1] spatial axes; tfjs drops them.
        return this.setOutput(node, {
          name: this.b.node('Flatten', [pooled], `${layer.name}_flatten`, { axis: 1 }),
          layout: 'native',
        });
      }
      case 'Flatten': {
        // Flatten must see NHWC order so the flat feature index matches tfjs, which
        // is what the following Dense kernel's rows were trained against.
        const x = this.toLayout(this.input(node), 'native');
        if (x.shape.length === 2) return this.setOutput(node, x);
        return this.setOutput(node, {
          name: this.b.node('Flatten', [x.name], layer.name, { axis: 1 }),
          layout: 'native',
        });
      }
      case 'Add':
      case 'Multiply':
        return this.emitElementwise(node, cls === 'Add' ? 'Add' : 'Mul');
      case 'Concatenate':
        return this.emitConcat(node, cfg);
      case 'Activation':
        return this.setOutput(node, this.activation(this.input(node), String(cfg.activation), layer));
      case 'ReLU': {
        const x = this.input(node);
        const max = cfg.maxValue;
        const name =
          max === null || max === undefined
            ? this.b.node('Relu', [x.name], layer.name)
            : this.clip(x.name, 0, Number(max), layer.name);
        return this.setOutput(node, { name, layout: x.layout });
      }
      case 'LeakyReLU': {
        const x = this.input(node);
        const alpha = Number(cfg.alpha ?? 0.3);
        return this.setOutput(node, {
          name: this.b.node('LeakyRelu', [x.name], layer.name, { alpha: float(alpha) }),
          layout: x.layout,
        });
      }
      case 'ELU': {
        const x = this.input(node);
        const alpha = Number(cfg.alpha ?? 1);
        return this.setOutput(node, {
          name: this.b.node('Elu', [x.name], layer.name, { alpha: float(alpha) }),
          layout: x.layout,
        });
      }
      case 'Softmax': {
        const x = this.input(node);
        const axis = Array.isArray(cfg.axis) ? cfg.axis : [cfg.axis ?? -1];
        if (axis.length !== 1)
          throw new Error(`ONNX export: layer "${layer.name}" (Softmax) over several axes is not supported`);
        const onnxAxis = this.mapAxis(x, Number(axis[0]), layer);
        return this.setOutput(node, {
          name: this.b.node('Softmax', [x.name], layer.name, { axis: onnxAxis }),
          layout: x.layout,
        });
      }
      default:
        if (INFERENCE_IDENTITY.has(cls)) return this.setOutput(node, this.input(node));
        throw new Error(
          `ONNX export: layer "${layer.name}" of class ${cls} is not supported. Supported layer classes: ${SUPPORTED.join(', ')}`,
        );
    }
  }

  /** Maps a tfjs (native) axis to the axis of the same data in `v`'s layout. */
  private mapAxis(v: Value, axis: number, layer: tf.layers.Layer): number {
    const rank = v.shape.length;
    const a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= rank)
      throw new Error(`ONNX export: layer "${layer.name}" has axis ${axis} out of range for rank ${rank}`);
    if (v.layout === 'native') return a;
    return [0, 2, 3, 1][a];
  }

  private clip(x: string, min: number, max: number, nameBase: string): string {
    // Since opset 11, Clip takes min and max as optional inputs, not attributes.
    return this.b.node('Clip', [x, this.b.scalar(min), this.b.scalar(max)], nameBase);
  }

  private activation(x: Value, act: string, layer: tf.layers.Layer, suffix = ''): Value {
    const base = `${layer.name}${suffix}`;
    const unary = (op: string, attrs = {}): Value => ({
      name: this.b.node(op, [x.name], base, attrs),
      layout: x.layout,
      shape: x.shape,
    });
    switch (act) {
      case 'linear':
        return x;
      case 'relu':
        return unary('Relu');
      case 'relu6':
        return { name: this.clip(x.name, 0, 6, base), layout: x.layout, shape: x.shape };
      case 'sigmoid':
        return unary('Sigmoid');
      case 'tanh':
        return unary('Tanh');
      case 'elu':
        return unary('Elu', { alpha: float(1) });
      case 'selu':
        // TF's SELU constants; ONNX's defaults round them differently in the 8th digit.
        return unary('Selu', { alpha: float(1.6732632423543772), gamma: float(1.0507009873554805) });
      case 'softplus':
        return unary('Softplus');
      case 'softsign':
        return unary('Softsign');
      case 'hardSigmoid':
        // tfjs uses clip(0.2x + 0.5, 0, 1), which is ONNX HardSigmoid's default.
        return unary('HardSigmoid', { alpha: float(0.2), beta: float(0.5) });
      case 'swish': {
        const s = this.b.node('Sigmoid', [x.name], `${base}_sigmoid`);
        return { name: this.b.node('Mul', [x.name, s], base), layout: x.layout, shape: x.shape };
      }
      case 'softmax':
        return unary('Softmax', { axis: this.mapAxis(x, -1, layer) });
      default:
        throw new Error(`ONNX export: layer "${layer.name}" uses activation "${act}", which is not supported`);
    }
  }

  private weight(layer: tf.layers.Layer, suffix: string): { data: Float32Array; shape: number[] } | null {
    const w = layer.weights.find(
      (v) => v.originalName === `${layer.name}/${suffix}` || v.originalName.endsWith(`/${suffix}`),
    );
    if (!w) return null;
    return { data: w.read().dataSync() as Float32Array, shape: w.shape as number[] };
  }

  private requireWeight(layer: tf.layers.Layer, suffix: string): { data: Float32Array; shape: number[] } {
    const w = this.weight(layer, suffix);
    if (!w) throw new Error(`ONNX export: layer "${layer.name}" has no weight "${suffix}"`);
    return w;
  }

  private bnAffine(bn: tf.layers.Layer, channels: number): BnAffine {
    const cfg = bn.getConfig() as Record<string, unknown>;
    const eps = Number(cfg.epsilon ?? 1e-3);
    const gamma = this.weight(bn, 'gamma')?.data;
    const beta = this.weight(bn, 'beta')?.data;
    const mean = this.requireWeight(bn, 'moving_mean').data;
    const variance = this.requireWeight(bn, 'moving_variance').data;
    if (mean.length !== channels) {
      throw new Error(`ONNX export: BatchNormalization "${bn.name}" has ${mean.length} channels, expected ${channels}`);
    }
    const scale = new Float64Array(channels);
    const shift = new Float64Array(channels);
    for (let c = 0; c < channels; c++) {
      // Computed in float64 so the folded weights are the float32 rounding of the
      // exact product, which keeps the export within ~1 ulp of tfjs.
      scale[c] = (gamma ? gamma[c] : 1) / Math.sqrt(variance[c] + eps);
      shift[c] = (beta ? beta[c] : 0) - mean[c] * scale[c];
    }
    return { scale, shift };
  }

  private emitConv(node: LayerNode, cls: string, cfg: Record<string, unknown>): void {
    const layer = node.outboundLayer;
    const x = this.toLayout(this.input(node), 'NCHW');
    const [, inH, inW, cin] = x.shape as number[];
    const [kh, kw] = pair(cfg.kernelSize, 'kernelSize', layer);
    const [sh, sw] = pair(cfg.strides ?? 1, 'strides', layer);
    const [dh, dw] = pair(cfg.dilationRate ?? 1, 'dilationRate', layer);
    const padding = String(cfg.padding ?? 'valid');
    const [pt, pb] = tfPads(padding, inH, kh, sh, dh);
    const [pl, pr] = tfPads(padding, inW, kw, sw, dw);
    // ONNX pads order is [x1_begin, x2_begin, x1_end, x2_end].
    const spatial = { kernel_shape: [kh, kw], strides: [sh, sw], pads: [pt, pl, pb, pr], dilations: [dh, dw] };

    const bnNode = this.foldInto.get(node);
    let current = x.name;
    let weights: Float32Array;
    let cout: number;
    let group = 1;
    let convSpatial = spatial;
    if (cls === 'Conv2D') {
      const k = this.requireWeight(layer, 'kernel');
      cout = k.shape[3];
      weights = hwioToOihw(k.data, kh, kw, cin, cout);
    } else {
      const dwk = this.requireWeight(layer, 'depthwise_kernel');
      const mult = dwk.shape[3];
      const dwWeights = depthwiseToOnnx(dwk.data, kh, kw, cin, mult);
      if (cls === 'DepthwiseConv2D') {
        cout = cin * mult;
        weights = dwWeights;
        group = cin;
      } else {
        // SeparableConv2D = depthwise (carrying the strides, padding and dilation)
        // followed by a 1x1 pointwise conv that carries the bias and any folded BN.
        const dwName = this.b.addFloatInitializer(`${layer.name}_depthwise_W`, dwWeights, [cin * mult, 1, kh, kw]);
        current = this.b.node('Conv', [current, dwName], `${layer.name}_depthwise`, { ...spatial, group: cin });
        const pw = this.requireWeight(layer, 'pointwise_kernel');
        cout = pw.shape[3];
        weights = hwioToOihw(pw.data, 1, 1, cin * mult, cout);
        convSpatial = { kernel_shape: [1, 1], strides: [1, 1], pads: [0, 0, 0, 0], dilations: [1, 1] };
      }
    }
    const biasData = this.weight(layer, 'bias')?.data;
    let bias: Float32Array | null = biasData ? Float32Array.from(biasData) : null;
    // With a folded BN the conv's own (pre-BN) output has no other reader, so the
    // result is bound to the BN's output tensor instead.
    const outputTensor = bnNode ? bnNode.outputTensors[0] : node.outputTensors[0];
    if (bnNode) {
      const { scale, shift } = this.bnAffine(bnNode.outboundLayer, cout);
      const perOut = weights.length / cout;
      const folded = new Float32Array(weights.length);
      const foldedBias = new Float32Array(cout);
      for (let o = 0; o < cout; o++) {
        for (let i = 0; i < perOut; i++) folded[o * perOut + i] = weights[o * perOut + i] * scale[o];
        foldedBias[o] = (bias ? bias[o] : 0) * scale[o] + shift[o];
      }
      weights = folded;
      bias = foldedBias;
    }
    // W is [cout, cin/group, kh, kw]; the second extent follows from the element count.
    const [ckh, ckw] = convSpatial.kernel_shape;
    const wShape = [cout, weights.length / (cout * ckh * ckw), ckh, ckw];
    const inputs = [current, this.b.addFloatInitializer(`${layer.name}_W`, weights, wShape)];
    if (bias) inputs.push(this.b.addFloatInitializer(`${layer.name}_B`, bias, [cout]));
    const convOut = this.b.node('Conv', inputs, layer.name, { ...convSpatial, group });
    const shape = outputTensor.shape as Shape;
    const activated = this.activation(
      { name: convOut, layout: 'NCHW', shape },
      String(cfg.activation ?? 'linear'),
      layer,
      '_act',
    );
    this.values.set(outputTensor.id, { ...activated, shape });
  }

  private emitDense(node: LayerNode, cfg: Record<string, unknown>): void {
    const layer = node.outboundLayer;
    const x = this.toLayout(this.input(node), 'native');
    if (x.shape.length !== 2) {
      throw new Error(
        `ONNX export: Dense layer "${layer.name}" gets a rank-${x.shape.length} input; add a Flatten before it`,
      );
    }
    const k = this.requireWeight(layer, 'kernel');
    // Gemm computes A*B + C; tfjs's kernel is already [in, out], so transB = 0.
    const inputs = [x.name, this.b.addFloatInitializer(`${layer.name}_W`, k.data, k.shape)];
    const bias = this.weight(layer, 'bias');
    if (bias) inputs.push(this.b.addFloatInitializer(`${layer.name}_B`, bias.data, bias.shape));
    const y = this.b.node('Gemm', inputs, layer.name, { transA: 0, transB: 0, alpha: float(1), beta: float(1) });
    const shape = node.outputTensors[0].shape as Shape;
    this.setOutput(
      node,
      this.activation({ name: y, layout: 'native', shape }, String(cfg.activation ?? 'linear'), layer, '_act'),
    );
  }

  private emitBatchNorm(node: LayerNode, cfg: Record<string, unknown>): void {
    if (this.foldedBn.has(node)) return; // its output was bound when the conv was emitted
    const layer = node.outboundLayer;
    let x = this.input(node);
    const rank = x.shape.length;
    if (!this.isChannelAxis(layer, rank)) {
      throw new Error(
        `ONNX export: BatchNormalization "${layer.name}" normalises axis ${JSON.stringify(cfg.axis)}; only the channel (last) axis is supported`,
      );
    }
    if (rank === 4) x = this.toLayout(x, 'NCHW');
    else if (rank !== 2)
      throw new Error(`ONNX export: BatchNormalization "${layer.name}" on a rank-${rank} tensor is not supported`);
    // ONNX BatchNormalization normalises axis 1, which is the channel axis for both
    // NCHW feature maps and [N, C] vectors.
    const channels = Number(x.shape[rank - 1]);
    const gamma = this.weight(layer, 'gamma')?.data ?? new Float32Array(channels).fill(1);
    const beta = this.weight(layer, 'beta')?.data ?? new Float32Array(channels);
    const inputs = [
      x.name,
      this.b.addFloatInitializer(`${layer.name}_scale`, gamma, [channels]),
      this.b.addFloatInitializer(`${layer.name}_bias`, beta, [channels]),
      this.b.addFloatInitializer(`${layer.name}_mean`, this.requireWeight(layer, 'moving_mean').data, [channels]),
      this.b.addFloatInitializer(`${layer.name}_var`, this.requireWeight(layer, 'moving_variance').data, [channels]),
    ];
    const y = this.b.node('BatchNormalization', inputs, layer.name, { epsilon: float(Number(cfg.epsilon ?? 1e-3)) });
    this.setOutput(node, { name: y, layout: x.layout });
  }

  private emitPool(node: LayerNode, cls: string, cfg: Record<string, unknown>): void {
    const layer = node.outboundLayer;
    const x = this.toLayout(this.input(node), 'NCHW');
    const [, inH, inW] = x.shape as number[];
    const [kh, kw] = pair(cfg.poolSize, 'poolSize', layer);
    const [sh, sw] = pair(cfg.strides ?? cfg.poolSize, 'strides', layer);
    const padding = String(cfg.padding ?? 'valid');
    const [pt, pb] = tfPads(padding, inH, kh, sh, 1);
    const [pl, pr] = tfPads(padding, inW, kw, sw, 1);
    const attrs: Record<string, number | number[]> = {
      kernel_shape: [kh, kw],
      strides: [sh, sw],
      pads: [pt, pl, pb, pr],
    };
    // TF's 'SAME' average divides by the number of real (unpadded) elements.
    if (cls === 'AveragePooling2D') attrs.count_include_pad = 0;
    const y = this.b.node(cls === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool', [x.name], layer.name, attrs);
    this.setOutput(node, { name: y, layout: 'NCHW' });
  }

  private emitElementwise(node: LayerNode, op: string): void {
    const layer = node.outboundLayer;
    const ins = node.inputTensors.map((_, i) => this.input(node, i));
    const target: Layout =
      ins.some((v) => v.layout === 'NCHW') && ins.every((v) => v.shape.length === 4) ? 'NCHW' : 'native';
    const names = ins.map((v) => this.toLayout(v, target).name);
    // ONNX Add/Mul are binary, so n inputs become a left fold of n-1 nodes.
    let acc = names[0];
    for (let i = 1; i < names.length; i++) {
      acc = this.b.node(op, [acc, names[i]], names.length > 2 ? `${layer.name}_${i}` : layer.name);
    }
    this.setOutput(node, { name: acc, layout: target });
  }

  private emitConcat(node: LayerNode, cfg: Record<string, unknown>): void {
    const layer = node.outboundLayer;
    const ins = node.inputTensors.map((_, i) => this.input(node, i));
    const target: Layout =
      ins.some((v) => v.layout === 'NCHW') && ins.every((v) => v.shape.length === 4) ? 'NCHW' : 'native';
    const converted = ins.map((v) => this.toLayout(v, target));
    const axis = this.mapAxis(converted[0], Number(cfg.axis ?? -1), layer);
    const y = this.b.node(
      'Concat',
      converted.map((v) => v.name),
      layer.name,
      { axis },
    );
    this.setOutput(node, { name: y, layout: target });
  }
}

/** tfjs conv kernel [kh, kw, cin, cout] -> ONNX W [cout, cin, kh, kw]. */
function hwioToOihw(k: Float32Array, kh: number, kw: number, cin: number, cout: number): Float32Array {
  const w = new Float32Array(k.length);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      for (let c = 0; c < cin; c++) {
        for (let o = 0; o < cout; o++) {
          w[((o * cin + c) * kh + i) * kw + j] = k[((i * kw + j) * cin + c) * cout + o];
        }
      }
    }
  }
  return w;
}

/**
 * tfjs depthwise kernel [kh, kw, cin, mult] -> ONNX grouped-conv W [cin*mult, 1, kh, kw]
 * with group = cin. Output channel c*mult + m of TF's depthwise conv is input channel
 * c filtered by multiplier m, and ONNX's grouped Conv assigns output channels to
 * groups in contiguous runs of `mult`, so the two orders agree.
 */
function depthwiseToOnnx(k: Float32Array, kh: number, kw: number, cin: number, mult: number): Float32Array {
  const w = new Float32Array(k.length);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      for (let c = 0; c < cin; c++) {
        for (let m = 0; m < mult; m++) {
          w[((c * mult + m) * kh + i) * kw + j] = k[((i * kw + j) * cin + c) * mult + m];
        }
      }
    }
  }
  return w;
}

function valueInfo(name: string, shape: (number | string)[]): OnnxTypes.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: shape.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  };
}
