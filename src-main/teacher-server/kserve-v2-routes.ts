/**
 * Open Inference Protocol v2 on the server side (docs/protocols.md, "Open Inference Protocol v2"):
 * model metadata, and infer requests and replies in JSON or with the binary tensor extension,
 * with the classification extension for top-k.
 */
import {
  HEADER_LENGTH,
  BinaryFramingError,
  joinBinaryBody,
  sliceBinaryTensors,
  splitBinaryBody,
} from '../teachers/kserve-binary.ts';
import { flattenNumbers, floatToHalf, halfToFloat } from '../teachers/tensor-data.ts';
import type { TeacherResponses } from '../teachers/responses.ts';
import { HttpError } from './http-error.ts';
import type { ServedModel } from './served-model.ts';
import { scoreMatrix } from './served-reply.ts';

interface Tensor {
  name?: string;
  shape?: number[];
  datatype?: string;
  data?: unknown;
  parameters?: Record<string, unknown>;
}

export interface KServeRequest {
  id?: string;
  input: Float32Array;
  count: number;
  binaryOutput: boolean;
  /** k from the classification extension, when the client asked for it. */
  classification?: number;
}

export function kserveMetadata(model: ServedModel, outputShape: number[], outputDatatype: string) {
  return {
    name: model.name,
    versions: [model.version],
    platform: 'onnxruntime_onnx',
    inputs: [{ name: model.inputName, datatype: 'FP32', shape: model.inputShape }],
    outputs: [{ name: model.outputName, datatype: outputDatatype, shape: outputShape }],
  };
}

export function parseKServeInfer(model: ServedModel, body: Buffer, headerLength: string | undefined): KServeRequest {
  let json: { id?: unknown; inputs?: Tensor[]; outputs?: Tensor[]; parameters?: Record<string, unknown> };
  let binary: Map<Tensor, Buffer>;
  try {
    const split = splitBinaryBody(body, headerLength);
    json = split.json as typeof json;
    if (!json || !Array.isArray(json.inputs)) throw new HttpError(400, 'request needs an "inputs" array');
    binary = sliceBinaryTensors(json.inputs, split.rest);
  } catch (err) {
    if (err instanceof BinaryFramingError) throw new HttpError(400, err.message);
    throw err;
  }
  const t =
    json.inputs.find((i) => i.name === model.inputName) ?? (json.inputs.length === 1 ? json.inputs[0] : undefined);
  if (!t) throw new HttpError(400, `no input named "${model.inputName}"`);
  if (t.datatype !== 'FP32') throw new HttpError(400, `input datatype ${t.datatype} is not supported; send FP32`);
  const shape = t.shape;
  if (
    !Array.isArray(shape) ||
    shape.length !== model.inputShape.length ||
    shape.slice(1).some((d, i) => d !== model.inputShape[i + 1])
  ) {
    throw new HttpError(
      400,
      `input shape ${JSON.stringify(shape)} does not match the model's ${JSON.stringify(model.inputShape)}`,
    );
  }
  const count = shape[0];
  const raw = binary.get(t);
  let input: Float32Array;
  if (raw) {
    input = new Float32Array(raw.length / 4);
    for (let i = 0; i < input.length; i++) input[i] = raw.readFloatLE(i * 4);
  } else {
    try {
      input = Float32Array.from(flattenNumbers(t.data, 'input'));
    } catch (err) {
      throw new HttpError(400, (err as Error).message);
    }
  }
  if (!(count >= 1) || input.length !== count * model.sampleSize) {
    throw new HttpError(
      400,
      `input has ${input.length} values, shape ${JSON.stringify(shape)} needs ${count * model.sampleSize}`,
    );
  }
  const out = json.outputs?.[0];
  const k = out?.parameters?.classification;
  return {
    id: typeof json.id === 'string' ? json.id : undefined,
    input,
    count,
    binaryOutput: Boolean(out?.parameters?.binary_data ?? json.parameters?.binary_data_output),
    classification: typeof k === 'number' && k >= 1 ? Math.floor(k) : undefined,
  };
}

export interface KServeReplyOptions {
  /** Send scores as FP16 (half the bytes; the client must decode it). */
  fp16?: boolean;
  /** Write NaN into the first score (a test fault). */
  nan?: boolean;
}

/** Formats a reply; returns the body and, for binary replies, the header length to send. */
export function formatKServeReply(
  model: ServedModel,
  req: KServeRequest,
  r: TeacherResponses,
  opts: KServeReplyOptions,
): { body: Buffer; headerLength?: number } {
  const head = { model_name: model.name, model_version: model.version, ...(req.id ? { id: req.id } : {}) };
  const scores = scoreMatrix(r);
  const k = r.topk?.k ?? (scores && req.classification ? Math.min(req.classification, r.numClasses) : undefined);
  if (k !== undefined) {
    // Classification extension: "score:index[:label]" strings, best first.
    const strings: string[] = [];
    for (let i = 0; i < r.count; i++) {
      const row = r.topk
        ? Array.from({ length: k }, (_, j) => [r.topk!.scores[i * k + j], r.topk!.indices[i * k + j]] as const)
        : Array.from(scores!.subarray(i * r.numClasses, (i + 1) * r.numClasses), (s, c) => [s, c] as const)
            .sort((a, b) => b[0] - a[0])
            .slice(0, k);
      for (const [s, c] of row)
        strings.push(
          `${opts.nan && !strings.length ? 'nan' : s}:${c}${model.classNames ? `:${model.classNames[c]}` : ''}`,
        );
    }
    return json({
      ...head,
      outputs: [{ name: model.outputName, datatype: 'BYTES', shape: [r.count, k], data: strings }],
    });
  }
  if (!scores) {
    const labels = Array.from(r.top1);
    return json({ ...head, outputs: [{ name: model.outputName, datatype: 'INT64', shape: [r.count], data: labels }] });
  }
  const values = opts.nan ? Float32Array.from(scores, (v, i) => (i === 0 ? NaN : v)) : scores;
  const datatype = opts.fp16 ? 'FP16' : 'FP32';
  const shape = [r.count, r.numClasses];
  if (req.binaryOutput) {
    const bytes = Buffer.alloc(values.length * (opts.fp16 ? 2 : 4));
    values.forEach((v, i) => (opts.fp16 ? bytes.writeUInt16LE(floatToHalf(v), i * 2) : bytes.writeFloatLE(v, i * 4)));
    const { body, headerLength } = joinBinaryBody(
      {
        ...head,
        outputs: [{ name: model.outputName, datatype, shape, parameters: { binary_data_size: bytes.length } }],
      },
      [bytes],
    );
    return { body, headerLength };
  }
  // JSON cannot carry NaN; null is what a careless server sends instead, and the client must reject it.
  return json({
    ...head,
    outputs: [
      {
        name: model.outputName,
        datatype,
        shape,
        data: Array.from(values, (v) => (Number.isFinite(v) ? (opts.fp16 ? halfToFloat(floatToHalf(v)) : v) : null)),
      },
    ],
  });
}

function json(value: unknown): { body: Buffer } {
  return { body: Buffer.from(JSON.stringify(value)) };
}

export { HEADER_LENGTH };
