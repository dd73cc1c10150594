/**
 * `onnx-local`: a model file run by onnxruntime-node, used strictly as a black box —
 * only its replies reach the engine, never its weights or activations.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { z } from 'zod';
import { inputSpecSchema } from './input-spec-schema.ts';
import type { Teacher, TeacherInfo, TeacherInputSpec } from './teacher.ts';
import { toTeacherInput, specImageDims } from './preprocess.ts';
import {
  RESPONSE_KINDS,
  degradeResponses,
  responsesFromLogits,
  argmaxRows,
  TeacherResponseError,
  type ResponseKind,
  type TeacherResponses,
} from './responses.ts';
import { validateResponses } from './validate-responses.ts';

/** The JSON file that sits beside a shipped ONNX teacher and declares how to talk to it. */
export const teacherManifestSchema = z.object({
  schemaVersion: z.literal(1),
  name: z.string(),
  file: z.string(),
  description: z.string().optional(),
  input: inputSpecSchema,
  output: z.object({ name: z.string().optional(), kind: z.enum(['logits', 'probabilities']) }),
  classNames: z.array(z.string()).optional(),
  measured: z.record(z.string(), z.unknown()).optional(),
});
export type TeacherManifest = z.infer<typeof teacherManifestSchema>;

export interface OnnxLocalOptions {
  /** A teacher manifest (.json) or a bare .onnx file. */
  model: string;
  /** Required for a bare .onnx file; overrides the manifest's otherwise. */
  input?: TeacherInputSpec;
  /** What the model's output holds (bare .onnx only; default logits). */
  outputKind?: 'logits' | 'probabilities';
  /** Reveal only this much, emulating a less generous cloud API. Default: all the model gives. */
  responseKind?: ResponseKind;
  topK?: number;
  classNames?: string[];
}

export function readTeacherManifest(file: string): TeacherManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: cannot read teacher manifest: ${(err as Error).message}`);
  }
  const parsed = teacherManifestSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(
      `${file}: invalid teacher manifest: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}

export class OnnxLocalTeacher implements Teacher {
  private constructor(
    readonly info: TeacherInfo,
    private readonly session: ort.InferenceSession,
    private readonly outputKind: 'logits' | 'probabilities',
    private readonly topK: number,
  ) {}

  static async open(opts: OnnxLocalOptions): Promise<OnnxLocalTeacher> {
    let modelFile = opts.model;
    let manifest: TeacherManifest | undefined;
    if (opts.model.endsWith('.json')) {
      manifest = readTeacherManifest(opts.model);
      modelFile = path.resolve(path.dirname(opts.model), manifest.file);
    }
    const input = opts.input ?? manifest?.input;
    if (!input) throw new Error(`${opts.model}: a bare ONNX teacher needs an input spec (shape, layout, scale)`);
    let bytes: Buffer;
    try {
      bytes = readFileSync(modelFile);
    } catch (err) {
      throw new Error(`${modelFile}: cannot read teacher model: ${(err as Error).message}`);
    }
    const session = await ort.InferenceSession.create(bytes);
    const outputKind = opts.outputKind ?? manifest?.output.kind ?? 'logits';
    const classNames = opts.classNames ?? manifest?.classNames;
    // One probe sample tells the class count, without trusting any declaration.
    const dims = specImageDims(input);
    const probe = await runSession(
      session,
      input,
      toTeacherInput(new Float32Array(dims.height * dims.width * dims.channels), 1, dims, input),
      1,
      dims,
    );
    const numClasses = probe.length;
    if (classNames && classNames.length !== numClasses) {
      throw new Error(`${opts.model}: ${classNames.length} class names but the model outputs ${numClasses} scores`);
    }
    const digest = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
    const responseKind = opts.responseKind ?? outputKind;
    if (!RESPONSE_KINDS.includes(responseKind)) throw new Error(`unknown response kind ${responseKind}`);
    const info: TeacherInfo = {
      id: `onnx-local:${manifest?.name ?? path.basename(modelFile)}:${digest}:${responseKind}`,
      protocol: 'onnx-local',
      name: manifest?.name ?? path.basename(modelFile, '.onnx'),
      input: { ...input, name: input.name ?? session.inputNames[0] },
      responseKind,
      numClasses,
      classNames,
    };
    return new OnnxLocalTeacher(info, session, outputKind, opts.topK ?? 3);
  }

  async query(images: Float32Array, count: number): Promise<TeacherResponses> {
    return this.queryPrepared(toTeacherInput(images, count, specImageDims(this.info.input), this.info.input), count);
  }

  async queryPrepared(input: Float32Array, count: number): Promise<TeacherResponses> {
    const dims = specImageDims(this.info.input);
    const out = await runSession(this.session, this.info.input, input, count, dims);
    const C = this.info.numClasses;
    if (out.length !== count * C) {
      throw new TeacherResponseError(`teacher returned ${out.length} values for ${count}×${C}`);
    }
    const full: TeacherResponses =
      this.outputKind === 'logits'
        ? responsesFromLogits(out, C)
        : { kind: 'probabilities', count, numClasses: C, probs: out, top1: argmaxRows(out, C) };
    const reply = degradeResponses(full, this.info.responseKind, this.topK);
    validateResponses(reply, count, C);
    return reply;
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

/** Runs the model on input already in its form (scaled, normalised, laid out). */
async function runSession(
  session: ort.InferenceSession,
  spec: TeacherInputSpec,
  data: Float32Array,
  count: number,
  dims: { height: number; width: number; channels: number },
): Promise<Float32Array> {
  const shape =
    spec.layout === 'NCHW'
      ? [count, dims.channels, dims.height, dims.width]
      : [count, dims.height, dims.width, dims.channels];
  const feeds = { [spec.name ?? session.inputNames[0]]: new ort.Tensor('float32', data, shape) };
  const result = await session.run(feeds);
  const t = result[session.outputNames[0]];
  return new Float32Array(t.data as Float32Array);
}
