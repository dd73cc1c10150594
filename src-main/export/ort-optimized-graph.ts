/**
 * What ONNX Runtime actually runs: the session is created with graph optimizations on and
 * `optimizedModelFilePath` set (SessionOptions.optimizedModelFilePath in onnxruntime-common, which
 * the Node binding honours), and the graph it serializes after fusion is decoded and read back.
 * This is how an int8 export proves that the QDQ groups became integer kernels rather than float
 * ops surrounded by Quantize/Dequantize.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { onnx } from './onnx-proto.ts';
import { openSession } from './ort-run.ts';

/** ORT kernels that compute on 8-bit integers (contrib ops live in the com.microsoft domain). */
export const INTEGER_KERNELS: ReadonlySet<string> = new Set([
  'QLinearConv',
  'QLinearMatMul',
  'MatMulInteger',
  'ConvInteger',
  'QGemm',
  'QLinearAdd',
  'QLinearMul',
  'QLinearGlobalAveragePool',
  'QLinearAveragePool',
  'QLinearConcat',
  'QLinearSigmoid',
  'QLinearLeakyRelu',
  'QLinearSoftmax',
  'MatMulIntegerToFloat',
  'DynamicQuantizeMatMul',
]);

/** Operators that carry data through unchanged and do not count as float compute. */
const DATA_MOVEMENT = new Set([
  'QuantizeLinear',
  'DequantizeLinear',
  'Transpose',
  'Flatten',
  'Reshape',
  'Identity',
  'MaxPool',
  'NhwcMaxPool',
  'ReorderInput',
  'ReorderOutput',
  'Squeeze',
  'Unsqueeze',
]);

export interface OptimizedGraph {
  /** Node op types in execution order, with their domain when not the default one. */
  ops: string[];
  integerKernels: string[];
  /** Float compute that survived optimization (Conv, Gemm, ...): empty when fusion was complete. */
  floatCompute: string[];
  dequantizeLinear: number;
}

export async function inspectOptimizedGraph(
  bytes: Uint8Array,
  level: 'basic' | 'extended' | 'all' = 'all',
): Promise<OptimizedGraph> {
  const dir = mkdtempSync(path.join(tmpdir(), 'distill-ort-opt-'));
  const file = path.join(dir, 'optimized.onnx');
  try {
    const session = await openSession(bytes, { graphOptimizationLevel: level, optimizedModelFilePath: file });
    await session.release();
    let saved: Buffer;
    try {
      saved = readFileSync(file);
    } catch {
      throw new Error('onnxruntime-node did not write the optimized model (optimizedModelFilePath ignored?)');
    }
    const nodes = onnx.ModelProto.decode(saved).graph?.node ?? [];
    const ops = nodes.map((n) => (n.domain ? `${n.domain}:${n.opType}` : (n.opType ?? '')));
    const bare = nodes.map((n) => n.opType ?? '');
    return {
      ops,
      integerKernels: bare.filter((o) => INTEGER_KERNELS.has(o)),
      floatCompute: bare.filter((o) => !INTEGER_KERNELS.has(o) && !DATA_MOVEMENT.has(o)),
      dequantizeLinear: bare.filter((o) => o === 'DequantizeLinear').length,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
