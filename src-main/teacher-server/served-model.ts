/**
 * The ONNX classifier behind `distill teacher serve`: a manifest (.json) or a bare .onnx file,
 * run by onnxruntime-node on input already in the model's form — like a real inference server,
 * it does no preprocessing of its own.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { readTeacherManifest, type TeacherManifest } from '../teachers/onnx-local-teacher.ts';
import type { TeacherInputSpec } from '../teachers/teacher.ts';

export interface ServedModel {
  name: string;
  version: string;
  inputName: string;
  outputName: string;
  /** Batch first, −1 where variable. */
  inputShape: number[];
  /** Values per sample. */
  sampleSize: number;
  numClasses: number;
  outputKind: 'logits' | 'probabilities';
  classNames?: string[];
  /** The manifest's input conventions, where there is a manifest. */
  inputSpec?: TeacherInputSpec;
  run(input: Float32Array, count: number): Promise<Float32Array>;
  close(): Promise<void>;
}

export async function loadServedModel(
  file: string,
  opts: { name?: string; intraOpThreads?: number } = {},
): Promise<ServedModel> {
  let manifest: TeacherManifest | undefined;
  let modelFile = file;
  if (file.endsWith('.json')) {
    manifest = readTeacherManifest(file);
    modelFile = path.resolve(path.dirname(file), manifest.file);
  }
  let bytes: Buffer;
  try {
    bytes = readFileSync(modelFile);
  } catch (err) {
    throw new Error(`${modelFile}: cannot read model: ${(err as Error).message}`);
  }
  const session = await ort.InferenceSession.create(
    bytes,
    opts.intraOpThreads ? { intraOpNumThreads: opts.intraOpThreads } : {},
  );
  const inputName = manifest?.input.name ?? session.inputNames[0];
  const meta = session.inputMetadata.find((m) => m.name === inputName);
  const declared = manifest?.input.shape;
  const fromModel =
    meta && meta.isTensor ? meta.shape.map((d) => (typeof d === 'number' && d > 0 ? d : -1)) : undefined;
  const inputShape = declared ?? fromModel;
  if (!inputShape || inputShape.slice(1).some((d) => d < 1)) {
    throw new Error(
      `${file}: the model input has no fixed per-sample shape; serve it with a manifest that declares one`,
    );
  }
  const sampleSize = inputShape.slice(1).reduce((a, b) => a * b, 1);
  const outputName = manifest?.output.name ?? session.outputNames[0];
  const run = async (input: Float32Array, count: number): Promise<Float32Array> => {
    const result = await session.run({
      [inputName]: new ort.Tensor('float32', input, [count, ...inputShape.slice(1)]),
    });
    return new Float32Array(result[outputName].data as Float32Array);
  };
  const numClasses = (await run(new Float32Array(sampleSize), 1)).length;
  return {
    name: opts.name ?? manifest?.name ?? path.basename(modelFile, '.onnx'),
    version: '1',
    inputName,
    outputName,
    inputShape,
    sampleSize,
    numClasses,
    outputKind: manifest?.output.kind ?? 'logits',
    classNames: manifest?.classNames,
    inputSpec: manifest?.input,
    run,
    close: () => session.release(),
  };
}
