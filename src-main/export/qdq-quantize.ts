/**
 * Static int8 quantization in the QDQ format: the float32 graph is kept, and every tensor that an
 * integer kernel could consume or produce is routed through a QuantizeLinear -> DequantizeLinear
 * pair carrying its calibrated scale. Weights are stored as int8 initializers behind a
 * DequantizeLinear, bias as int32.
 *
 * The arrangement follows what ONNX Runtime's QDQ transformers look for (ORT docs, "Quantize ONNX
 * models", QDQ format), so that at load time they replace each "DQ -> op -> Q" group by one integer
 * kernel: Conv -> QLinearConv, Gemm -> QGemm, Add -> QLinearAdd, GlobalAveragePool ->
 * QLinearGlobalAveragePool, AveragePool -> QLinearAveragePool, Concat -> QLinearConcat, and
 * MaxPool/Transpose/Flatten run directly on uint8 once their Q/DQ pair (same parameters on both
 * sides) is dropped. For that:
 *  - the Relu or Clip(0, 6) right after a Conv/Gemm/Add is removed and its range becomes the output
 *    range of the Q: a uint8 Q with zero point 0 clamps at 0, and at the calibrated top, which is
 *    what the activation did (ORT's quantizer removes them the same way);
 *  - MaxPool, Transpose and Flatten reuse their input's parameters for their output, since they
 *    only move or select values;
 *  - Gemm's weight is stored transposed (transB = 1) so its per-channel axis is 0, the form QGemm
 *    documents for per-column scales.
 * Operators with no integer kernel (Softmax, BatchNormalization, LeakyRelu...) simply read the
 * dequantized values and run in float.
 */
import { onnx, type OnnxTypes } from './onnx-proto.ts';
import { GraphEditor } from './graph-edit.ts';
import { attribute } from './onnx-graph-builder.ts';
import { floatTensor, int32Tensor, int8Tensor, readFloatTensor, uint8Tensor } from './onnx-tensors.ts';
import {
  activationParams,
  quantizeBias,
  quantizeWeightsPerChannel,
  type ActivationParams,
  type TensorRange,
} from './quant-params.ts';
import { QuantizationError } from './errors.ts';

/** Ops whose output gets its own calibrated parameters. */
const OWN_PARAMS = new Set(['Conv', 'Gemm', 'Add', 'Mul', 'Concat', 'GlobalAveragePool', 'AveragePool']);
/** Ops that only move or select values: output parameters are the input's. */
const SHARED_PARAMS = new Set(['MaxPool', 'Transpose', 'Flatten']);
/** Producers an activation may be folded into. */
const FOLD_INTO = new Set(['Conv', 'Gemm', 'Add']);

type Node = OnnxTypes.INodeProto;

export interface QdqSummary {
  quantizedNodes: number;
  floatNodes: string[];
  foldedActivations: number;
}

export function quantizeQdq(
  model: OnnxTypes.IModelProto,
  ranges: Map<string, TensorRange>,
): { model: OnnxTypes.IModelProto; summary: QdqSummary } {
  const g = new GraphEditor(model.graph ?? {});
  const folded = foldActivations(g);
  const q = new QdqWriter(g, ranges);
  const targets = g.nodes.filter((n) => OWN_PARAMS.has(n.opType ?? '') || SHARED_PARAMS.has(n.opType ?? ''));
  const quantized = new Set(targets.filter((node) => q.quantizeNode(node)));
  g.removeUnusedInitializers();
  const floatNodes = g.nodes.filter((n) => !isQdq(n) && !quantized.has(n)).map((n) => `${n.opType} ${n.name}`);
  const metadataProps = [
    ...(model.metadataProps ?? []).filter((p) => p.key !== 'precision'),
    { key: 'precision', value: 'int8' },
    {
      key: 'quantization',
      value: 'QDQ static, activations uint8 asymmetric per tensor, weights int8 symmetric per channel',
    },
  ];
  return {
    model: { ...model, graph: g.graph, metadataProps },
    summary: { quantizedNodes: quantized.size, floatNodes, foldedActivations: folded },
  };
}

function isQdq(n: Node): boolean {
  return n.opType === 'QuantizeLinear' || n.opType === 'DequantizeLinear';
}

function scalarValue(g: GraphEditor, name: string | undefined): number | undefined {
  if (!name) return undefined;
  const t = g.initializer(name);
  if (!t || t.dataType !== onnx.TensorProto.DataType.FLOAT) return undefined;
  const v = readFloatTensor(t);
  return v.length === 1 ? v[0] : undefined;
}

/** Removes each Relu / Clip(0, max) that is the sole reader of a Conv, Gemm or Add output. */
function foldActivations(g: GraphEditor): number {
  let count = 0;
  for (const act of [...g.nodes]) {
    const isRelu = act.opType === 'Relu';
    const isClip0 =
      act.opType === 'Clip' && scalarValue(g, act.input?.[1]) === 0 && scalarValue(g, act.input?.[2]) !== undefined;
    if (!isRelu && !isClip0) continue;
    const x = act.input![0];
    const producer = g.producer(x);
    if (!producer || !FOLD_INTO.has(producer.opType ?? '')) continue;
    if (g.consumers(x).length !== 1 || g.isGraphOutput(x)) continue;
    producer.output = [act.output![0]];
    g.removeNode(act);
    count++;
  }
  return count;
}

class QdqWriter {
  private readonly params = new Map<string, ActivationParams>();
  /** Tensor -> the DequantizeLinear output that now stands for it. */
  private readonly dequantized = new Map<string, string>();
  private readonly dqOutputs = new Set<string>();

  constructor(
    private readonly g: GraphEditor,
    private readonly ranges: Map<string, TensorRange>,
  ) {}

  quantizeNode(node: Node): boolean {
    const op = node.opType ?? '';
    const inputs = node.input ?? [];
    if (op === 'Conv' || op === 'Gemm') {
      if (!this.g.initializer(inputs[1])) return false; // a computed weight: leave it in float
      if (op === 'Gemm' && !this.plainGemm(node)) return false;
    }
    const activationInputs = op === 'Add' || op === 'Mul' || op === 'Concat' ? inputs.map((_, i) => i) : [0];
    for (const i of activationInputs) {
      if (this.g.initializer(inputs[i])) return false; // constant operands are not part of this design
    }
    const inputParams = activationInputs.map((i) => this.paramsOf(inputs[i]));
    for (const i of activationInputs) inputs[i] = this.dq(inputs[i]);
    if (op === 'Conv' || op === 'Gemm') this.quantizeWeights(node, inputParams[0].scale);
    const out = node.output![0];
    if (!this.g.isGraphOutput(out)) this.dq(out);
    return true;
  }

  private plainGemm(node: Node): boolean {
    const attr = (name: string, dflt: number): number => {
      const a = (node.attribute ?? []).find((x) => x.name === name);
      return a ? (a.type === onnx.AttributeProto.AttributeType.FLOAT ? Number(a.f) : Number(a.i)) : dflt;
    };
    return attr('transA', 0) === 0 && attr('alpha', 1) === 1 && attr('beta', 1) === 1;
  }

  private paramsOf(name: string): ActivationParams {
    const tensor = this.dqSource(name);
    const known = this.params.get(tensor);
    if (known) return known;
    const producer = this.g.producer(tensor);
    let p: ActivationParams;
    if (producer && SHARED_PARAMS.has(producer.opType ?? '')) {
      p = this.paramsOf(producer.input![0]);
    } else {
      const range = this.ranges.get(tensor);
      if (!range) throw new QuantizationError(`no calibrated range for tensor "${tensor}"`);
      p = activationParams(range);
    }
    this.params.set(tensor, p);
    return p;
  }

  /** The original tensor behind a DequantizeLinear output. */
  private dqSource(name: string): string {
    for (const [src, dq] of this.dequantized) if (dq === name) return src;
    return name;
  }

  /** Routes `tensor` through Q -> DQ once; every reader then uses the DQ output. */
  private dq(tensor: string): string {
    if (this.dqOutputs.has(tensor)) return tensor;
    const done = this.dequantized.get(tensor);
    if (done) return done;
    const p = this.paramsOf(tensor);
    const g = this.g;
    const scale = g.unique(`${tensor}_scale`);
    const zp = g.unique(`${tensor}_zero_point`);
    g.initializers.push(floatTensor(scale, [p.scale], []), uint8Tensor(zp, [p.zeroPoint], []));
    const qOut = g.unique(`${tensor}_quantized`);
    const dqOut = g.unique(`${tensor}_dequantized`);
    const qNode: Node = {
      opType: 'QuantizeLinear',
      name: g.unique(`${tensor}_QuantizeLinear`),
      input: [tensor, scale, zp],
      output: [qOut],
    };
    const dqNode: Node = {
      opType: 'DequantizeLinear',
      name: g.unique(`${tensor}_DequantizeLinear`),
      input: [qOut, scale, zp],
      output: [dqOut],
    };
    g.redirectConsumers(tensor, dqOut);
    g.insertAfterProducer(dqNode, tensor);
    g.insertAfterProducer(qNode, tensor);
    this.dequantized.set(tensor, dqOut);
    this.dqOutputs.add(dqOut);
    return dqOut;
  }

  private quantizeWeights(node: Node, inputScale: number): void {
    const g = this.g;
    const inputs = node.input!;
    const wTensor = g.initializer(inputs[1])!;
    let w = readFloatTensor(wTensor);
    let dims = (wTensor.dims ?? []).map(Number);
    if (node.opType === 'Gemm') {
      const transB = (node.attribute ?? []).find((a) => a.name === 'transB');
      if (!transB || Number(transB.i) === 0) {
        // [K, N] -> [N, K]: one row per output column, so the channel axis is 0.
        const [k, n] = dims;
        const t = new Float32Array(w.length);
        for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) t[j * k + i] = w[i * n + j];
        w = t;
        dims = [n, k];
        node.attribute = [...(node.attribute ?? []).filter((a) => a.name !== 'transB'), attribute('transB', 1)];
      }
    }
    const channels = dims[0];
    const qw = quantizeWeightsPerChannel(w, channels);
    inputs[1] = this.constantDq(
      `${inputs[1]}`,
      int8Tensor(g.unique(`${inputs[1]}_int8`), qw.values, dims),
      qw.scales,
      'int8',
    );
    if (inputs[2]) {
      const b = g.initializer(inputs[2]);
      if (!b)
        throw new QuantizationError(
          `${node.opType} "${node.name}" has a computed bias; only constant bias is supported`,
        );
      const qb = quantizeBias(readFloatTensor(b), inputScale, qw.scales);
      inputs[2] = this.constantDq(
        `${inputs[2]}`,
        int32Tensor(g.unique(`${inputs[2]}_int32`), qb.values, [channels]),
        qb.scales,
        'int32',
      );
    }
  }

  /** A DequantizeLinear along axis 0 of a constant, placed first in the graph. */
  private constantDq(
    base: string,
    values: OnnxTypes.ITensorProto,
    scales: Float32Array,
    zpType: 'int8' | 'int32',
  ): string {
    const g = this.g;
    const n = scales.length;
    const scale = g.unique(`${base}_scale`);
    const zp = g.unique(`${base}_zero_point`);
    const zeros = new Array<number>(n).fill(0);
    g.initializers.push(
      values,
      floatTensor(scale, scales, [n]),
      zpType === 'int8' ? int8Tensor(zp, zeros, [n]) : int32Tensor(zp, zeros, [n]),
    );
    const out = g.unique(`${base}_dequantized`);
    g.nodes.unshift({
      opType: 'DequantizeLinear',
      name: g.unique(`${base}_DequantizeLinear`),
      input: [values.name!, scale, zp],
      output: [out],
      attribute: [attribute('axis', 0)],
    });
    return out;
  }
}
