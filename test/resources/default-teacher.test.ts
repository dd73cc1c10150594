/**
 * Guards the resources the demo depends on: the shipped "cloud teacher" must still be the
 * strong model its sidecar JSON claims (the whole demo story is a student approaching a
 * better teacher), and the shipped demo subset must be well-formed IDX that agrees with
 * its manifest. The teacher is checked through onnxruntime-node, i.e. the same runtime and
 * the same client-side preprocessing the engine uses, not through the PyTorch that trained it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const teacherDir = path.join(root, 'resources', 'teachers');
const dataDir = path.join(root, 'resources', 'demo-data', 'fashion-mnist');

interface TeacherSpec {
  schemaVersion: number;
  name: string;
  file: string;
  input: { name: string; shape: number[]; layout: string; dtype: string; scale: [number, number]; mean: number[]; std: number[] };
  output: { name: string; kind: string };
  classNames: string[];
  measured: { testAccuracy: number; params: number; epochs: number };
}

interface Idx { magic: number; dims: number[]; data: Uint8Array }

function readIdxGz(file: string): Idx {
  const bytes = zlib.gunzipSync(fs.readFileSync(file));
  const magic = bytes.readUInt32BE(0);
  const ndims = magic & 0xff;
  const dims = Array.from({ length: ndims }, (_, d) => bytes.readUInt32BE(4 + 4 * d));
  const offset = 4 + 4 * ndims;
  return { magic, dims, data: new Uint8Array(bytes.buffer, bytes.byteOffset + offset, bytes.length - offset) };
}

const spec: TeacherSpec = JSON.parse(fs.readFileSync(path.join(teacherDir, 'fashion-mnist-cnn.json'), 'utf8'));
const manifest = JSON.parse(fs.readFileSync(path.join(dataDir, 'manifest.json'), 'utf8'));

test('teacher sidecar declares the input contract the demo relies on', () => {
  assert.equal(spec.schemaVersion, 1);
  assert.equal(spec.file, 'fashion-mnist-cnn.onnx');
  assert.ok(fs.existsSync(path.join(teacherDir, spec.file)), 'ONNX file next to the JSON');
  assert.deepEqual(spec.input.shape, [-1, 1, 28, 28]);
  assert.equal(spec.input.layout, 'NCHW');
  assert.equal(spec.input.dtype, 'float32');
  assert.equal(spec.output.kind, 'logits');
  assert.equal(spec.classNames.length, 10);
  // Normalisation lives outside the model on purpose; a spec without it would silently
  // feed the teacher raw [0,1] pixels and cost it most of its accuracy.
  assert.equal(spec.input.mean.length, 1);
  assert.equal(spec.input.std.length, 1);
  assert.ok(spec.input.std[0] > 0);
  assert.ok(spec.measured.testAccuracy >= 0.91, `recorded test accuracy ${spec.measured.testAccuracy} < 0.91`);
  assert.ok(Number.isInteger(spec.measured.params) && spec.measured.params > 0);
});

test('demo-data manifest agrees with the IDX headers', () => {
  for (const split of ['train', 'test'] as const) {
    const entry = manifest.splits[split];
    const images = readIdxGz(path.join(dataDir, entry.images));
    const labels = readIdxGz(path.join(dataDir, entry.labels));
    assert.equal(images.magic, 0x00000803, `${split} images magic`);
    assert.equal(labels.magic, 0x00000801, `${split} labels magic`);
    assert.deepEqual(images.dims, [entry.count, 28, 28]);
    assert.deepEqual(labels.dims, [entry.count]);
    assert.equal(images.data.length, entry.count * 28 * 28);
    assert.equal(labels.data.length, entry.count);
    assert.equal(entry.sourceIndices.length, entry.count);
    const perClass = new Array<number>(10).fill(0);
    for (const label of labels.data) perClass[label]++;
    assert.deepEqual(perClass, entry.perClass);
  }
});

test('shipped teacher reaches its accuracy on the demo test subset via onnxruntime-node', async () => {
  const entry = manifest.splits.test;
  const images = readIdxGz(path.join(dataDir, entry.images));
  const labels = readIdxGz(path.join(dataDir, entry.labels));
  const n = images.dims[0];
  const pixels = 28 * 28;

  const [lo, hi] = spec.input.scale;
  const mean = spec.input.mean[0];
  const std = spec.input.std[0];
  const input = new Float32Array(n * pixels);
  for (let i = 0; i < input.length; i++) {
    input[i] = (lo + (images.data[i] / 255) * (hi - lo) - mean) / std;
  }

  const session = await ort.InferenceSession.create(path.join(teacherDir, spec.file));
  assert.deepEqual(session.inputNames, [spec.input.name]);
  assert.deepEqual(session.outputNames, [spec.output.name]);

  // Batches exercise the dynamic batch axis; the odd final size catches a fixed-batch export.
  const batch = 333;
  let correct = 0;
  for (let start = 0; start < n; start += batch) {
    const size = Math.min(batch, n - start);
    const tensor = new ort.Tensor('float32', input.subarray(start * pixels, (start + size) * pixels), [size, 1, 28, 28]);
    const out = await session.run({ [spec.input.name]: tensor });
    const logits = out[spec.output.name];
    assert.deepEqual(logits.dims, [size, 10]);
    const values = logits.data as Float32Array;
    for (let r = 0; r < size; r++) {
      let best = 0;
      for (let c = 1; c < 10; c++) if (values[r * 10 + c] > values[r * 10 + best]) best = c;
      if (best === labels.data[start + r]) correct++;
    }
  }
  await session.release();
  const accuracy = correct / n;
  assert.ok(accuracy >= 0.89, `teacher accuracy on the ${n}-image demo test subset is ${accuracy}`);
});
