/**
 * `kserve-v2`: the Open Inference Protocol v2 REST API (KServe, Triton, MLServer, TorchServe v2
 * mode) per docs/protocols.md: metadata for shapes, infer with flat or nested `data`, FP32/FP16/INT64
 * outputs, the binary tensor extension both ways, the classification extension for top-k.
 */
import { z } from 'zod';
import { httpExchange } from './http-transport.ts';
import { retryWhileOpening } from './open-retry.ts';
import { authHeaders } from './auth.ts';
import {
  remoteSettingsSchema,
  parseSettings,
  publicEndpoint,
  requestHeaders,
  inputSpecFromShape,
} from './remote-settings.ts';
import { RemoteTeacher, type ReplyContext } from './remote-teacher.ts';
import {
  HEADER_LENGTH,
  BinaryFramingError,
  float32Bytes,
  joinBinaryBody,
  sliceBinaryTensors,
  splitBinaryBody,
} from './kserve-binary.ts';
import { decodeRaw, flattenAny, flattenNumbers, isNumericDatatype } from './tensor-data.ts';
import { parseJsonReply } from './json-reply.ts';
import { responsesFromScores, responsesFromTopK, responsesFromLabels } from './score-replies.ts';
import { TeacherMalformedReplyError } from './errors.ts';
import { TeacherResponseError, type ResponseKind, type TeacherResponses } from './responses.ts';
import type { Teacher } from './teacher.ts';

export const kserveSettingsSchema = remoteSettingsSchema.extend({
  modelName: z.string().min(1),
  /** Send inputs and ask for outputs with the binary tensor extension (default false: plain JSON). */
  binary: z.boolean().default(false),
  /** Output tensor to read (default: the first in the metadata). */
  outputName: z.string().optional(),
});
export type KServeSettings = z.input<typeof kserveSettingsSchema>;

interface OipTensor {
  name?: string;
  shape?: number[];
  datatype?: string;
  data?: unknown;
  parameters?: Record<string, unknown>;
}

export async function openKServeV2Teacher(settings: Record<string, unknown>): Promise<Teacher> {
  const s = parseSettings(kserveSettingsSchema, 'kserve-v2', settings);
  const headers = requestHeaders(s, authHeaders(s.auth));
  const base = `${s.url.replace(/\/$/, '')}/v2/models/${encodeURIComponent(s.modelName)}${s.modelVersion ? `/versions/${encodeURIComponent(s.modelVersion)}` : ''}`;
  const meta = parseJsonReply(
    (await retryWhileOpening(() => httpExchange({ url: base, method: 'GET', headers, timeoutMs: s.timeoutMs }))).body,
    'model metadata',
  ) as {
    inputs?: OipTensor[];
    outputs?: OipTensor[];
  };
  const metaIn = meta.inputs?.find((t) => t.name === s.input?.name) ?? meta.inputs?.[0];
  const metaOut = meta.outputs?.find((t) => t.name === s.outputName) ?? meta.outputs?.[0];
  const input = s.input ?? (metaIn?.shape ? inputSpecFromShape(metaIn.shape, metaIn.name) : undefined);
  if (!input) throw new TeacherResponseError(`${s.modelName}: metadata has no input shape; declare teacher.input`);
  const inputName = input.name ?? metaIn?.name ?? 'input';
  const outputName = s.outputName ?? metaOut?.name;
  const sample = input.shape.slice(1);
  const classification =
    s.topK !== undefined && s.responseKind !== 'logits' && s.responseKind !== 'probabilities' ? s.topK : undefined;

  let metaKind: ResponseKind | undefined;
  let metaClasses: number | undefined;
  if (metaOut?.datatype === 'BYTES' || classification) metaKind = 'top-k';
  else if (metaOut?.datatype?.startsWith('INT') || metaOut?.datatype?.startsWith('UINT')) metaKind = 'top-1';
  else if (metaOut?.shape && metaOut.shape.length === 2 && metaOut.shape[1] > 1) metaClasses = metaOut.shape[1];

  const send = async (data: Float32Array, count: number, ctx: ReplyContext): Promise<TeacherResponses> => {
    const tensor: OipTensor = { name: inputName, shape: [count, ...sample], datatype: 'FP32' };
    const outputs = outputName
      ? [
          {
            name: outputName,
            parameters: {
              ...(s.binary && !classification ? { binary_data: true } : {}),
              ...(classification ? { classification } : {}),
            },
          },
        ]
      : undefined;
    let body: Buffer;
    const h = { ...headers };
    if (s.binary) {
      const bytes = float32Bytes(data);
      const joined = joinBinaryBody(
        { inputs: [{ ...tensor, parameters: { binary_data_size: bytes.length } }], outputs },
        [bytes],
      );
      body = joined.body;
      h[HEADER_LENGTH] = String(joined.headerLength);
      h['content-type'] = 'application/octet-stream';
    } else {
      body = Buffer.from(JSON.stringify({ inputs: [{ ...tensor, data: Array.from(data) }], outputs }));
      h['content-type'] = 'application/json';
    }
    const reply = await httpExchange({ url: `${base}/infer`, headers: h, body, timeoutMs: s.timeoutMs });
    return readInferReply(reply.body, reply.headers.get(HEADER_LENGTH), count, outputName, ctx);
  };

  const identity = `${publicEndpoint(s.url)}:${s.modelName}:${s.modelVersion ?? ''}`;
  return RemoteTeacher.describe(
    {
      protocol: 'kserve-v2',
      identity,
      name: s.modelName,
      input: { ...input, name: inputName },
      numClasses: s.numClasses ?? metaClasses,
      responseKind: s.responseKind ?? metaKind,
      classNames: s.classNames,
      topK: classification,
    },
    send,
  );
}

/** Interprets an infer reply: scores, classification strings or labels. */
export function readInferReply(
  body: Buffer,
  headerLength: string | null,
  count: number,
  outputName: string | undefined,
  ctx: ReplyContext,
): TeacherResponses {
  let json: { outputs?: OipTensor[] };
  let binary: Map<OipTensor, Buffer>;
  try {
    // Binary framing only where its header says so; a JSON reply may hold bare NaN or Infinity,
    // which parseJsonReply reads and the reply checks then refuse.
    const split =
      headerLength == null
        ? { json: parseJsonReply(body), rest: Buffer.alloc(0) }
        : splitBinaryBody(body, headerLength);
    json = split.json as typeof json;
    if (!json || !Array.isArray(json.outputs) || !json.outputs.length)
      throw new TeacherMalformedReplyError('infer reply has no "outputs"');
    binary = sliceBinaryTensors(json.outputs, split.rest);
  } catch (err) {
    if (err instanceof BinaryFramingError) throw new TeacherMalformedReplyError(`binary infer reply: ${err.message}`);
    if (err instanceof SyntaxError)
      throw new TeacherMalformedReplyError(`infer reply is not valid JSON: ${err.message}`);
    throw err;
  }
  const out = json.outputs.find((t) => t.name === outputName) ?? json.outputs[0];
  const datatype = out.datatype ?? '';
  const shape = out.shape ?? [];
  const numel = shape.reduce((a, b) => a * b, 1);
  const raw = binary.get(out);
  if (datatype === 'BYTES') {
    const strings = flattenAny(out.data);
    if (strings.length !== numel || shape[0] !== count)
      throw new TeacherResponseError(`classification output shape ${JSON.stringify(shape)} for ${count} sample(s)`);
    const k = numel / count;
    const indices: number[] = [];
    const scores: number[] = [];
    strings.forEach((x) => {
      const m = /^([^:]+):(-?\d+)(?::.*)?$/s.exec(String(x));
      if (!m)
        throw new TeacherResponseError(`classification entry "${String(x).slice(0, 40)}" is not score:index[:label]`);
      scores.push(Number(m[1]));
      indices.push(Number(m[2]));
    });
    return responsesFromTopK(indices, scores, count, k, ctx.numClasses ?? 0);
  }
  if (!isNumericDatatype(datatype))
    throw new TeacherResponseError(`output datatype ${datatype || '(none)'} is not supported`);
  const values = raw ? decodeRaw(raw, datatype, 'output') : flattenNumbers(out.data, 'output');
  if (values.length !== numel)
    throw new TeacherResponseError(`output has ${values.length} values but shape ${JSON.stringify(shape)}`);
  if (shape[0] !== count) throw new TeacherResponseError(`teacher answered ${shape[0]} row(s) for ${count} sample(s)`);
  if (datatype.startsWith('INT') || datatype.startsWith('UINT') || numel === count) {
    if (numel !== count)
      throw new TeacherResponseError(`integer output of shape ${JSON.stringify(shape)} is not one label per sample`);
    return responsesFromLabels(values, ctx.numClasses ?? 0);
  }
  return responsesFromScores(values, count, numel / count, ctx.declaredKind);
}
