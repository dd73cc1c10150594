/**
 * `tf-serving`: TensorFlow Serving's REST `:predict` (docs/protocols.md), row form
 * (`instances` → `predictions`, the default) or column form (`inputs` → `outputs`). Rows may be
 * score lists, `{name: value}` objects for multi-output signatures, or bare class indices.
 * Bare NaN/Infinity in replies are read, then rejected by validation.
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
import { parseJsonReply } from './json-reply.ts';
import { flattenNumbers } from './tensor-data.ts';
import { responsesFromScores, responsesFromTopK, responsesFromLabels } from './score-replies.ts';
import { TeacherMalformedReplyError, TeacherError } from './errors.ts';
import { TeacherResponseError, type TeacherResponses } from './responses.ts';
import type { Teacher } from './teacher.ts';

export const tfServingSettingsSchema = remoteSettingsSchema.extend({
  modelName: z.string().min(1),
  /** `row` sends `instances`, `column` sends `inputs` (default row). */
  form: z.enum(['row', 'column']).default('row'),
  signatureName: z.string().optional(),
  /** For multi-output signatures: the output holding scores (default: `scores`, `probabilities`, `logits`, else the first). */
  outputKey: z.string().optional(),
});

export async function openTfServingTeacher(settings: Record<string, unknown>): Promise<Teacher> {
  const s = parseSettings(tfServingSettingsSchema, 'tf-serving', settings);
  const headers = requestHeaders(s, authHeaders(s.auth));
  const base = `${s.url.replace(/\/$/, '')}/v1/models/${encodeURIComponent(s.modelName)}${s.modelVersion ? `/versions/${encodeURIComponent(s.modelVersion)}` : ''}`;
  let input = s.input;
  let metaClasses: number | undefined;
  try {
    const meta = parseJsonReply(
      (
        await retryWhileOpening(() =>
          httpExchange({ url: `${base}/metadata`, method: 'GET', headers, timeoutMs: s.timeoutMs }),
        )
      ).body,
      'model metadata',
    ) as TfMetadata;
    const sig = meta.metadata?.signature_def?.signature_def?.[s.signatureName ?? 'serving_default'];
    const dims = (t?: TfTensorInfo) => t?.tensor_shape?.dim?.map((d) => Number(d.size));
    const inShape = dims(Object.values(sig?.inputs ?? {})[0]);
    const outShape = dims(Object.values(sig?.outputs ?? {})[0]);
    input ??= inShape ? inputSpecFromShape(inShape) : undefined;
    if (outShape?.length === 2 && outShape[1] > 1) metaClasses = outShape[1];
  } catch (err) {
    // Metadata is optional in practice (some gateways hide it); a declared input is then enough.
    if (!input || !(err instanceof TeacherError) || err.name === 'TeacherAuthError') throw err;
  }
  if (!input) throw new TeacherResponseError(`${s.modelName}: no input shape in the metadata; declare teacher.input`);
  const sample = input.shape.slice(1);

  const send = async (data: Float32Array, count: number, ctx: ReplyContext): Promise<TeacherResponses> => {
    const per = data.length / count;
    const rows = Array.from({ length: count }, (_, i) => nest(data.subarray(i * per, (i + 1) * per), sample));
    const req: Record<string, unknown> = s.form === 'row' ? { instances: rows } : { inputs: rows };
    if (s.signatureName) req.signature_name = s.signatureName;
    const reply = await httpExchange({
      url: `${base}:predict`,
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify(req),
      timeoutMs: s.timeoutMs,
    });
    const json = parseJsonReply(reply.body, 'predict reply') as { predictions?: unknown; outputs?: unknown };
    const got = s.form === 'row' ? json.predictions : json.outputs;
    if (got === undefined)
      throw new TeacherMalformedReplyError(`predict reply has no "${s.form === 'row' ? 'predictions' : 'outputs'}"`);
    return readPredictions(s.form === 'row' ? got : columnsToRows(got), count, ctx, s.outputKey);
  };

  return RemoteTeacher.describe(
    {
      protocol: 'tf-serving',
      identity: `${publicEndpoint(s.url)}:${s.modelName}:${s.modelVersion ?? ''}:${s.signatureName ?? ''}`,
      name: s.modelName,
      input,
      numClasses: s.numClasses ?? metaClasses,
      responseKind: s.responseKind,
      classNames: s.classNames,
      topK: s.topK,
    },
    send,
  );
}

interface TfTensorInfo {
  tensor_shape?: { dim?: { size: string }[] };
}
interface TfMetadata {
  metadata?: {
    signature_def?: {
      signature_def?: Record<string, { inputs?: Record<string, TfTensorInfo>; outputs?: Record<string, TfTensorInfo> }>;
    };
  };
}

/** Row-major values into nested arrays of `shape`, as TF Serving expects each instance. */
function nest(values: Float32Array, shape: number[]): unknown {
  if (shape.length <= 1) return Array.from(values);
  const step = values.length / shape[0];
  return Array.from({ length: shape[0] }, (_, i) => nest(values.subarray(i * step, (i + 1) * step), shape.slice(1)));
}

/** Column form: a batch array, or `{name: batch}` for several outputs. */
function columnsToRows(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (v && typeof v === 'object') {
    const cols = Object.entries(v as Record<string, unknown[]>);
    const n = Array.isArray(cols[0]?.[1]) ? cols[0][1].length : 0;
    return Array.from({ length: n }, (_, i) => Object.fromEntries(cols.map(([k, col]) => [k, col[i]])));
  }
  throw new TeacherMalformedReplyError('predict "outputs" is neither an array nor an object of arrays');
}

const SCORE_KEYS = ['scores', 'probabilities', 'probs', 'logits', 'predictions'];

export function readPredictions(rows: unknown, count: number, ctx: ReplyContext, outputKey?: string): TeacherResponses {
  if (!Array.isArray(rows)) throw new TeacherMalformedReplyError('predictions are not an array');
  if (rows.length !== count)
    throw new TeacherResponseError(`teacher answered ${rows.length} row(s) for ${count} sample(s)`);
  if (rows.every((r) => typeof r === 'number')) return responsesFromLabels(rows as number[], ctx.numClasses ?? 0);
  if (rows.every((r) => r && typeof r === 'object' && !Array.isArray(r))) {
    const objs = rows as Record<string, unknown>[];
    const key = outputKey ?? SCORE_KEYS.find((k) => k in objs[0]) ?? Object.keys(objs[0])[0];
    const classes = objs[0].classes;
    if (
      Array.isArray(classes) &&
      key === 'scores' &&
      Array.isArray(objs[0].scores) &&
      classes.length === (objs[0].scores as unknown[]).length &&
      (ctx.numClasses === undefined || classes.length < ctx.numClasses)
    ) {
      // A top-k signature: {classes: [k], scores: [k]} per row.
      const k = classes.length;
      const idx = objs.flatMap((o, i) => rowOf(o.classes, k, i));
      const sc = objs.flatMap((o, i) => rowOf(o.scores, k, i));
      return responsesFromTopK(idx, sc, count, k, ctx.numClasses ?? 0);
    }
    rows = objs.map((o) => o[key]);
  }
  const first = (rows as unknown[])[0];
  const C = Array.isArray(first) ? flattenNumbers(first, 'row 0').length : 0;
  if (!C) throw new TeacherResponseError('predictions rows hold no scores');
  const values = (rows as unknown[]).flatMap((r, i) => rowOf(r, C, i));
  return responsesFromScores(values, count, C, ctx.declaredKind);
}

function rowOf(r: unknown, n: number, i: number): number[] {
  const v = flattenNumbers(r, `row ${i}`);
  if (v.length !== n) throw new TeacherResponseError(`row ${i} has ${v.length} values, earlier rows had ${n}`);
  return v;
}
