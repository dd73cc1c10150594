/**
 * `http-json`: a template for the many teams that wrap a model in their own small API
 * (docs/protocols.md, "Generic JSON endpoints"): URL, method, headers, a body template in which the
 * string "$batch" is replaced by the batch (one nested array per sample), and a reply path to
 * one row per sample.
 */
import { z } from 'zod';
import { httpExchange } from './http-transport.ts';
import { authHeaders } from './auth.ts';
import { remoteSettingsSchema, parseSettings, publicEndpoint, requestHeaders } from './remote-settings.ts';
import { RemoteTeacher, type ReplyContext } from './remote-teacher.ts';
import { parseJsonReply } from './json-reply.ts';
import { readReplyRows } from './reply-rows.ts';
import { evalJsonPath, parseJsonPath } from './json-path.ts';
import { TeacherConfigError, TeacherMalformedReplyError } from './errors.ts';
import type { Teacher, TeacherInputSpec } from './teacher.ts';
import type { TeacherResponses } from './responses.ts';

const BATCH = '$batch';

export const httpJsonSettingsSchema = remoteSettingsSchema.extend({
  method: z.enum(['POST', 'PUT']).default('POST'),
  /** Any JSON value; the string "$batch" inside it becomes the batch. Default `{"instances": "$batch"}`. */
  bodyTemplate: z.unknown().default({ instances: BATCH }),
  /** `nested`: each sample shaped as input.shape; `flat`: each sample one flat list. */
  sampleForm: z.enum(['nested', 'flat']).default('nested'),
  /** Where the rows are in the reply, e.g. `$.predictions[*].probs` (default `$.predictions`). */
  replyPath: z.string().default('$.predictions'),
  input: remoteSettingsSchema.shape.input.unwrap(),
});

export async function openHttpJsonTeacher(settings: Record<string, unknown>): Promise<Teacher> {
  const s = parseSettings(httpJsonSettingsSchema, 'http-json', settings);
  parseJsonPath(s.replyPath);
  if (!JSON.stringify(s.bodyTemplate ?? null).includes(JSON.stringify(BATCH))) {
    throw new TeacherConfigError(`http-json bodyTemplate must contain the string "${BATCH}"`);
  }
  const headers = requestHeaders(s, authHeaders(s.auth));
  const input = s.input as TeacherInputSpec;
  const sample = input.shape.slice(1);

  const send = async (data: Float32Array, count: number, ctx: ReplyContext): Promise<TeacherResponses> => {
    const per = data.length / count;
    const batch = Array.from({ length: count }, (_, i) => {
      const row = data.subarray(i * per, (i + 1) * per);
      return s.sampleForm === 'flat' ? Array.from(row) : nest(row, sample);
    });
    const body = JSON.stringify(fill(s.bodyTemplate, batch));
    const reply = await httpExchange({
      url: s.url,
      method: s.method as 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body,
      timeoutMs: s.timeoutMs,
    });
    const rows = evalJsonPath(parseJsonReply(reply.body), s.replyPath);
    if (!Array.isArray(rows))
      throw new TeacherMalformedReplyError(`reply path ${s.replyPath} does not lead to an array of rows`);
    return readReplyRows(rows, count, ctx, s.classNames);
  };

  return RemoteTeacher.describe(
    {
      protocol: 'http-json',
      identity: `${publicEndpoint(s.url)}:${s.modelName ?? ''}:${s.modelVersion ?? ''}:${s.replyPath}`,
      name: s.modelName ?? new URL(s.url).host,
      input,
      numClasses: s.numClasses,
      responseKind: s.responseKind,
      classNames: s.classNames,
      topK: s.topK,
    },
    send,
  );
}

function fill(template: unknown, batch: unknown): unknown {
  if (template === BATCH) return batch;
  if (Array.isArray(template)) return template.map((t) => fill(t, batch));
  if (template && typeof template === 'object')
    return Object.fromEntries(Object.entries(template).map(([k, v]) => [k, fill(v, batch)]));
  return template;
}

function nest(values: Float32Array, shape: number[]): unknown {
  if (shape.length <= 1) return Array.from(values);
  const step = values.length / shape[0];
  return Array.from({ length: shape[0] }, (_, i) => nest(values.subarray(i * step, (i + 1) * step), shape.slice(1)));
}
