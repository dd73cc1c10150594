/**
 * "fp16 weights, float32 I/O": every float weight is stored as FLOAT16 and widened back by a
 * Cast(to=FLOAT) node that takes over the weight's name, so no consumer changes and the graph
 * still computes in float32.
 *
 * Why not a full float16 graph: ONNX Runtime's CPU execution provider has float16 kernels for only
 * a few operators on x86. Measured with onnxruntime-node 1.30: a float16 graph of each zoo student
 * loads, but the runtime's InsertCastTransformer wraps every node lacking a float16 kernel (Conv,
 * Gemm, MaxPool, Flatten...) in Casts to float, so it computes in float32 anyway and only adds
 * float16 rounding of activations. Casting the weights alone gives the same file size with fewer
 * surprises: a Cast of an initializer is a constant expression, which ORT's constant folding (a
 * "basic" level graph optimization, on by default) evaluates once at load time, so inference runs
 * at fp32 speed on fp32 values, while the file — the thing shipped to the device — is half the size.
 * `bench:export` measures both the size and the latency of the result.
 */
import type { OnnxTypes } from './onnx-proto.ts';
import { GraphEditor } from './graph-edit.ts';
import { attribute } from './onnx-graph-builder.ts';
import { DataType, halfTensor, readFloatTensor } from './onnx-tensors.ts';

export interface Fp16Options {
  /** Tensors with fewer elements stay float32: scalars such as Clip bounds gain nothing. Default 2. */
  minElements?: number;
}

export function toFp16Weights(model: OnnxTypes.IModelProto, opts: Fp16Options = {}): OnnxTypes.IModelProto {
  const minElements = opts.minElements ?? 2;
  const g = new GraphEditor(model.graph ?? {});
  const casts: OnnxTypes.INodeProto[] = [];
  for (const t of [...g.initializers]) {
    if (t.dataType !== DataType.FLOAT) continue;
    const dims = (t.dims ?? []).map(Number);
    const values = readFloatTensor(t);
    if (values.length < minElements) continue;
    const name = t.name ?? '';
    const halfName = g.unique(`${name}_fp16`);
    g.replaceInitializer(name, halfTensor(halfName, values, dims));
    casts.push({
      opType: 'Cast',
      name: g.unique(`${name}_to_fp32`),
      input: [halfName],
      output: [name],
      attribute: [attribute('to', DataType.FLOAT)],
    });
  }
  g.graph.node = [...casts, ...g.nodes];
  return { ...model, graph: g.graph };
}
