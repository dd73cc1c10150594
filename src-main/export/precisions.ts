/**
 * One trained student, several files: fp32, fp16 weights (fp32 I/O) and static int8 QDQ.
 * Each is a rewrite of the same fp32 graph, so all share input/output names and layout.
 */
import type * as tf from '@tensorflow/tfjs';
import { buildOnnxModel, type OnnxExportOptions } from './onnx-export.ts';
import { onnx, type OnnxTypes } from './onnx-proto.ts';
import { toFp16Weights } from './fp16-weights.ts';
import { calibrateRanges } from './calibrate.ts';
import { quantizeQdq, type QdqSummary } from './qdq-quantize.ts';
import type { ImageDims } from './ort-run.ts';
import type { InputLayout } from './tfjs-to-onnx.ts';
import { CalibrationError, UnknownPrecisionError } from './errors.ts';

export const PRECISIONS = ['fp32', 'fp16', 'int8'] as const;
export type Precision = (typeof PRECISIONS)[number];

/** File names inside a bundle; fp32 is the plain `model.onnx` a user reaches for first. */
export const PRECISION_FILES: Readonly<Record<Precision, string>> = {
  fp32: 'model.onnx',
  fp16: 'model.fp16.onnx',
  int8: 'model.int8.onnx',
};

export const PRECISION_TITLES: Readonly<Record<Precision, string>> = {
  fp32: 'float32',
  fp16: 'float16 weights, float32 compute and I/O',
  int8: 'int8 static QDQ (uint8 activations, int8 per-channel weights)',
};

export function parsePrecisions(list: string): Precision[] {
  const out: Precision[] = [];
  for (const raw of list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (!(PRECISIONS as readonly string[]).includes(raw)) {
      throw new UnknownPrecisionError(`unknown precision "${raw}" (use ${PRECISIONS.join(', ')})`);
    }
    if (!out.includes(raw as Precision)) out.push(raw as Precision);
  }
  if (!out.length) throw new UnknownPrecisionError('no precision given');
  return out;
}

/** Images (NHWC float32 in [0, 1]) whose activation ranges set the int8 scales. */
export interface CalibrationSet {
  images: Float32Array;
  count: number;
  dims: ImageDims;
}

export interface PrecisionArtifact {
  precision: Precision;
  bytes: Uint8Array;
  inputName: string;
  outputName: string;
  inputShape: (number | string)[];
  inputLayout: InputLayout;
  opset: number;
  quantization?: QdqSummary & { calibrationImages: number };
}

export interface PrecisionExportOptions extends OnnxExportOptions {
  precisions: readonly Precision[];
  /** Required for int8. */
  calibration?: CalibrationSet;
}

function withPrecision(proto: OnnxTypes.IModelProto, precision: Precision): OnnxTypes.IModelProto {
  const rest = (proto.metadataProps ?? []).filter((p) => p.key !== 'precision');
  return { ...proto, metadataProps: [...rest, { key: 'precision', value: precision }] };
}

export async function exportPrecisions(
  model: tf.LayersModel,
  opts: PrecisionExportOptions,
): Promise<PrecisionArtifact[]> {
  const built = await buildOnnxModel(model, opts);
  const inputLayout = opts.inputLayout ?? 'NCHW';
  const base = {
    inputName: built.inputName,
    outputName: built.outputName,
    inputShape: built.inputShape,
    inputLayout,
    opset: built.opset,
  };
  const out: PrecisionArtifact[] = [];
  for (const precision of opts.precisions) {
    if (precision === 'fp32') {
      out.push({ ...base, precision, bytes: onnx.ModelProto.encode(withPrecision(built.proto, 'fp32')).finish() });
    } else if (precision === 'fp16') {
      out.push({
        ...base,
        precision,
        bytes: onnx.ModelProto.encode(withPrecision(toFp16Weights(built.proto), 'fp16')).finish(),
      });
    } else {
      const cal = opts.calibration;
      if (!cal || cal.count < 1)
        throw new CalibrationError("int8 export needs calibration images (the run's local images)");
      const ranges = await calibrateRanges(built.proto, cal.images, cal.count, cal.dims, { layout: inputLayout });
      const { model: q, summary } = quantizeQdq(built.proto, ranges);
      out.push({
        ...base,
        precision,
        bytes: onnx.ModelProto.encode(q).finish(),
        quantization: { ...summary, calibrationImages: cal.count },
      });
    }
  }
  return out;
}
