/**
 * `torchserve`: `POST /predictions/{model}[/{version}]` (docs/protocols.md, "TorchServe"). With
 * `body: json` a batch is one JSON array of instances and the handler answers one row per
 * instance; with `body: raw` each image travels alone as a PNG file, the way TorchServe's image
 * handlers take it. Rows are usually `{label: score}` maps.
 */
import { z } from 'zod';
import { PNG } from 'pngjs';
import { httpExchange } from './http-transport.ts';
import { authHeaders } from './auth.ts';
import { remoteSettingsSchema, parseSettings, publicEndpoint, requestHeaders } from './remote-settings.ts';
import { RemoteTeacher, type ReplyContext } from './remote-teacher.ts';
import { parseJsonReply } from './json-reply.ts';
import { readReplyRows } from './reply-rows.ts';
import { specImageDims } from './preprocess.ts';
import { TeacherConfigError } from './errors.ts';
import type { Teacher, TeacherInputSpec } from './teacher.ts';
import type { TeacherResponses } from './responses.ts';

export const torchServeSettingsSchema = remoteSettingsSchema.extend({
  modelName: z.string().min(1),
  body: z.enum(['json', 'raw']).default('json'),
  input: remoteSettingsSchema.shape.input.unwrap(),
});

export async function openTorchServeTeacher(settings: Record<string, unknown>): Promise<Teacher> {
  const s = parseSettings(torchServeSettingsSchema, 'torchserve', settings);
  const headers = requestHeaders(s, authHeaders(s.auth));
  const url = `${s.url.replace(/\/$/, '')}/predictions/${encodeURIComponent(s.modelName)}${s.modelVersion ? `/${encodeURIComponent(s.modelVersion)}` : ''}`;
  const input = s.input as TeacherInputSpec;
  if (s.body === 'raw' && (input.scale[0] !== 0 || input.scale[1] !== 255 || input.mean || input.std)) {
    // An image file carries 8-bit pixels; the handler does its own normalisation.
    throw new TeacherConfigError('torchserve raw-image bodies need input.scale [0, 255] and no mean/std');
  }
  const dims = specImageDims(input);

  const post = async (body: Buffer, type: string): Promise<unknown> =>
    parseJsonReply(
      (await httpExchange({ url, headers: { ...headers, 'content-type': type }, body, timeoutMs: s.timeoutMs })).body,
      'prediction',
    );

  const send = async (data: Float32Array, count: number, ctx: ReplyContext): Promise<TeacherResponses> => {
    const per = data.length / count;
    let rows: unknown[];
    if (s.body === 'json') {
      const instances = Array.from({ length: count }, (_, i) => Array.from(data.subarray(i * per, (i + 1) * per)));
      const reply = await post(Buffer.from(JSON.stringify(instances)), 'application/json');
      rows = Array.isArray(reply) ? reply : [reply];
    } else {
      rows = [];
      for (let i = 0; i < count; i++)
        rows.push(await post(toPng(data.subarray(i * per, (i + 1) * per), dims, input.layout), 'image/png'));
    }
    return readReplyRows(rows, count, ctx, s.classNames);
  };

  return RemoteTeacher.describe(
    {
      protocol: 'torchserve',
      identity: `${publicEndpoint(s.url)}:${s.modelName}:${s.modelVersion ?? ''}:${s.body}`,
      name: s.modelName,
      input,
      numClasses: s.numClasses,
      responseKind: s.responseKind,
      classNames: s.classNames,
      topK: s.topK,
    },
    send,
  );
}

/** One sample of 0..255 values as a grayscale or RGB PNG. */
function toPng(
  sample: Float32Array,
  dims: { height: number; width: number; channels: number },
  layout: 'NCHW' | 'NHWC',
): Buffer {
  const { height: h, width: w, channels: c } = dims;
  if (c !== 1 && c !== 3) throw new TeacherConfigError(`a PNG body needs 1 or 3 channels, not ${c}`);
  const png = new PNG({ width: w, height: h, colorType: c === 1 ? 0 : 2 });
  for (let p = 0; p < h * w; p++) {
    for (let ch = 0; ch < 3; ch++) {
      const v = sample[layout === 'NCHW' ? (c === 1 ? 0 : ch) * h * w + p : p * c + (c === 1 ? 0 : ch)];
      png.data[p * 4 + ch] = Math.max(0, Math.min(255, Math.round(v)));
    }
    png.data[p * 4 + 3] = 255;
  }
  return PNG.sync.write(png, { colorType: c === 1 ? 0 : 2 });
}
