/**
 * Public entry point: a trained tfjs student in, a self-contained ONNX file out.
 */
import type * as tf from '@tensorflow/tfjs';
import { cacheWeightsOnHost } from '../training/evaluate.ts';
import { convertLayersModel, type InputLayout } from './tfjs-to-onnx.ts';
import { onnx, type OnnxTypes } from './onnx-proto.ts';

export type { InputLayout } from './tfjs-to-onnx.ts';

export interface OnnxExportOptions {
  /** Default opset 13: old enough for every current runtime, new enough for input-form Clip and axis-wise Softmax. */
  opset?: number;
  /** Layout of the graph input. The graph computes in NCHW either way; NHWC adds one Transpose. */
  inputLayout?: InputLayout;
  inputName?: string;
  outputName?: string;
  producerName?: string;
  docString?: string;
  /** Extra key/value pairs stored in the model's metadata_props. */
  metadata?: Record<string, string>;
}

export interface OnnxExportResult {
  bytes: Uint8Array;
  inputName: string;
  outputName: string;
  /** Batch first, as the symbolic dimension 'N'; then C,H,W or H,W,C per inputLayout. */
  inputShape: (number | string)[];
  opset: number;
  nodeCount: number;
}

export const PRODUCER = 'distill-workbench';
export const MIN_OPSET = 13;
export const MAX_OPSET = 21;

/**
 * The lowest IR version that may carry a given default-domain opset, per the ONNX
 * release table (onnx/helper.py VERSION_TABLE): 1.8-1.9 shipped opsets 13-14 with
 * IR 7, 1.10-1.13 opsets 15-18 with IR 8, 1.14-1.15 opsets 19-20 with IR 9 and 1.16
 * opset 21 with IR 10. Using the lowest keeps the file loadable by older readers.
 */
export function irVersionForOpset(opset: number): number {
  if (opset <= 14) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

export async function exportToOnnx(model: tf.LayersModel, opts: OnnxExportOptions = {}): Promise<OnnxExportResult> {
  const built = await buildOnnxModel(model, opts);
  const bytes = onnx.ModelProto.encode(built.proto).finish();
  return {
    bytes,
    inputName: built.inputName,
    outputName: built.outputName,
    inputShape: built.inputShape,
    opset: built.opset,
    nodeCount: built.nodeCount,
  };
}

/** The fp32 model as a protobuf object, for passes (fp16, int8) that rewrite it before encoding. */
export interface BuiltOnnxModel extends Omit<OnnxExportResult, 'bytes'> {
  proto: OnnxTypes.IModelProto;
}

export async function buildOnnxModel(model: tf.LayersModel, opts: OnnxExportOptions = {}): Promise<BuiltOnnxModel> {
  const opset = opts.opset ?? 13;
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    // Below 13 Softmax flattens to 2-D instead of working per axis, which changes
    // its meaning on feature maps; above 21 is untested.
    throw new Error(`ONNX export: opset ${opset} is not supported (use ${MIN_OPSET}-${MAX_OPSET})`);
  }
  const inputLayout = opts.inputLayout ?? 'NCHW';
  if (inputLayout !== 'NCHW' && inputLayout !== 'NHWC')
    throw new Error(`ONNX export: unknown inputLayout "${String(inputLayout)}"`);
  const inputName = opts.inputName ?? 'input';
  const outputName = opts.outputName ?? 'logits';

  // The converter reads weights synchronously; fetched first, they come from the host copy (the
  // WebGPU backend has no synchronous read in Node).
  await cacheWeightsOnHost(model);
  const converted = convertLayersModel(model, { opset, inputLayout, inputName, outputName });
  const metadata: Record<string, string> = {
    producer: PRODUCER,
    input_layout: inputLayout,
    ...(opts.metadata ?? {}),
  };
  const proto: OnnxTypes.IModelProto = {
    irVersion: irVersionForOpset(opset),
    opsetImport: [{ domain: '', version: opset }],
    producerName: opts.producerName ?? PRODUCER,
    docString: opts.docString ?? '',
    graph: converted.graph,
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value: String(value) })),
  };
  return { proto, inputName, outputName, inputShape: converted.inputShape, opset, nodeCount: converted.nodeCount };
}
