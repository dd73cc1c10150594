/**
 * TensorFlow Serving's REST API on the server side (docs/protocols.md, "TensorFlow Serving REST"):
 * `:predict` in row form (`instances` → `predictions`) or column form (`inputs` → `outputs`),
 * and the model metadata. Like TF Serving, a NaN score is written as a bare `NaN`.
 */
import { flattenNumbers } from '../teachers/tensor-data.ts';
import type { TeacherResponses } from '../teachers/responses.ts';
import { HttpError } from './http-error.ts';
import type { ServedModel } from './served-model.ts';
import { scoreMatrix } from './served-reply.ts';

export interface TfServingRequest {
  input: Float32Array;
  count: number;
  columnar: boolean;
}

export function tfServingMetadata(model: ServedModel, outputShape: number[]) {
  const dims = (shape: number[]) => ({ dim: shape.map((d) => ({ size: String(d), name: '' })), unknown_rank: false });
  return {
    model_spec: { name: model.name, signature_name: '', version: model.version },
    metadata: {
      signature_def: {
        signature_def: {
          serving_default: {
            inputs: {
              [model.inputName]: {
                dtype: 'DT_FLOAT',
                tensor_shape: dims(model.inputShape),
                name: `${model.inputName}:0`,
              },
            },
            outputs: {
              [model.outputName]: { dtype: 'DT_FLOAT', tensor_shape: dims(outputShape), name: `${model.outputName}:0` },
            },
            method_name: 'tensorflow/serving/predict',
          },
        },
      },
    },
  };
}

export function parseTfServingPredict(model: ServedModel, body: Buffer): TfServingRequest {
  let json: { instances?: unknown; inputs?: unknown };
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new HttpError(400, `request is not valid JSON: ${(err as Error).message}`);
  }
  if (json.instances !== undefined && json.inputs !== undefined)
    throw new HttpError(400, 'use either "instances" or "inputs", not both');
  const columnar = json.inputs !== undefined;
  let rows: unknown[];
  if (columnar) {
    const v = json.inputs as unknown;
    const col = v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>)[model.inputName] : v;
    if (!Array.isArray(col))
      throw new HttpError(400, `"inputs" must be a batch array or {"${model.inputName}": batch}`);
    rows = col;
  } else {
    if (!Array.isArray(json.instances)) throw new HttpError(400, 'request needs "instances" or "inputs"');
    rows = json.instances.map((r) =>
      r && typeof r === 'object' && !Array.isArray(r) ? (r as Record<string, unknown>)[model.inputName] : r,
    );
  }
  const input = new Float32Array(rows.length * model.sampleSize);
  rows.forEach((row, i) => {
    let flat: number[];
    try {
      flat = flattenNumbers(row, `instance ${i}`);
    } catch (err) {
      throw new HttpError(400, (err as Error).message);
    }
    if (flat.length !== model.sampleSize)
      throw new HttpError(400, `instance ${i} has ${flat.length} values, the model takes ${model.sampleSize}`);
    input.set(flat, i * model.sampleSize);
  });
  if (!rows.length) throw new HttpError(400, 'empty batch');
  return { input, count: rows.length, columnar };
}

export function formatTfServingReply(req: TfServingRequest, r: TeacherResponses, opts: { nan?: boolean }): Buffer {
  const C = r.numClasses;
  const scores = scoreMatrix(r);
  let rows: unknown[];
  if (scores) {
    rows = Array.from({ length: r.count }, (_, i) => Array.from(scores.subarray(i * C, (i + 1) * C)));
    if (opts.nan) (rows[0] as number[])[0] = NaN;
  } else if (r.topk) {
    const k = r.topk.k;
    rows = Array.from({ length: r.count }, (_, i) => ({
      scores: Array.from(r.topk!.scores.subarray(i * k, (i + 1) * k)),
      classes: Array.from(r.topk!.indices.subarray(i * k, (i + 1) * k)),
    }));
  } else {
    rows = Array.from(r.top1);
  }
  let value: unknown;
  if (!req.columnar) value = { predictions: rows };
  else if (r.topk)
    value = {
      outputs: {
        scores: rows.map((x) => (x as { scores: number[] }).scores),
        classes: rows.map((x) => (x as { classes: number[] }).classes),
      },
    };
  else value = { outputs: rows };
  return Buffer.from(stringifyWithBareNonFinite(value));
}

/** JSON.stringify, except non-finite numbers become bare NaN / Infinity / -Infinity as TF Serving writes them. */
function stringifyWithBareNonFinite(value: unknown): string {
  const mark = '\u0000nonfinite:';
  const text = JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? `${mark}${v}` : v));
  return text.replace(/"\\u0000nonfinite:(NaN|Infinity|-Infinity)"/g, '$1');
}
