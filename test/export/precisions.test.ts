/**
 * Every zoo student in every precision: exported, passed through onnx.checker (full_check), run in
 * ONNX Runtime and compared with the tfjs student on real Fashion-MNIST images. fp32 must be within
 * 1e-4; fp16 and int8 report their difference, fidelity and accuracy; int8 must run as integer
 * kernels after ORT's QDQ fusion, read from the optimized graph ORT saves.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { listStudents } from '../../src-main/students/index.ts';
import { loadDataset } from '../../src-main/data/load-dataset.ts';
import { subset, type ImageSet } from '../../src-main/data/image-set.ts';
import { exportPrecisions, PRECISIONS, type Precision } from '../../src-main/export/precisions.ts';
import {
  studentReference,
  verifyPrecision,
  FP32_PARITY_BOUND,
  type EvalSet,
  type PrecisionReport,
} from '../../src-main/export/verify-precision.ts';
import { ParityError } from '../../src-main/export/errors.ts';
import { onnx } from '../../src-main/export/onnx-proto.ts';
import type { InputLayout } from '../../src-main/export/tfjs-to-onnx.ts';
import { Rng } from '../../src-main/util/rng.ts';
import { randomizeBatchNorm, checkWithOnnxChecker } from './helpers.ts';

await tf.setBackend('cpu');
const work = mkdtempSync(path.join(tmpdir(), 'precision-test-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

const first = (set: ImageSet, n: number) =>
  subset(
    set,
    Array.from({ length: n }, (_, i) => i),
  );
const train = first(loadDataset({ kind: 'idx', split: 'train' }), 200);
const held = first(loadDataset({ kind: 'idx', split: 'test' }), 300);
const dims = { height: 28, width: 28, channels: 1 };
const calibration = { images: train.images, count: train.count, dims };
const evalSet: EvalSet = {
  images: held.images,
  count: held.count,
  dims,
  labels: held.labels,
  source: 'Fashion-MNIST test',
};

const table: string[] = [];
function note(key: string, layout: string, r: PrecisionReport): void {
  table.push(
    `${key} ${layout} ${r.precision}: ${r.sizeBytes} B, max|diff| ${r.maxAbsDiff.toExponential(2)}, fidelity ${r.fidelity.toFixed(3)}` +
      (r.optimized ? `, ORT runs ${r.optimized.integerKernels.join('+')}` : ''),
  );
}

async function exportAndProve(
  model: tf.LayersModel,
  key: string,
  layout: InputLayout,
  precisions: readonly Precision[] = PRECISIONS,
) {
  const artifacts = await exportPrecisions(model, { precisions, inputLayout: layout, calibration });
  const ref = await studentReference(model, evalSet);
  const reports = new Map<Precision, PrecisionReport>();
  const files = new Map<Precision, Uint8Array>();
  for (const a of artifacts) {
    files.set(a.precision, a.bytes);
    const file = path.join(work, `${key}-${layout}-${a.precision}.onnx`);
    writeFileSync(file, a.bytes);
    checkWithOnnxChecker(file);
    const r = await verifyPrecision(a, evalSet, ref);
    note(key, layout, r);
    reports.set(a.precision, r);
  }
  return { reports, files };
}

function weightBytes(bytes: Uint8Array): number {
  return (onnx.ModelProto.decode(bytes).graph?.initializer ?? []).reduce((a, t) => a + (t.rawData?.length ?? 0), 0);
}

for (const student of listStudents()) {
  test(`${student.key}: fp32, fp16 and int8 exports pass the checker and match the tfjs student`, async () => {
    const model = student.build({ inputShape: [28, 28, 1], numClasses: 10, seed: 11 });
    randomizeBatchNorm(model, new Rng(3));
    try {
      const { reports: r, files } = await exportAndProve(model, student.key, 'NCHW');
      const fp32 = r.get('fp32')!;
      assert.ok(fp32.maxAbsDiff <= FP32_PARITY_BOUND, `fp32 ${fp32.maxAbsDiff}`);
      assert.equal(fp32.fidelity, 1);
      const fp16 = r.get('fp16')!;
      // Node and tensor names are the same in every file; the weights are what shrinks.
      assert.ok(
        weightBytes(files.get('fp16')!) <= 0.5 * weightBytes(files.get('fp32')!) + 64,
        'fp16 halves the weights',
      );
      assert.ok(fp16.fidelity >= 0.98, `fp16 fidelity ${fp16.fidelity}`);
      const int8 = r.get('int8')!;
      // int8 weights plus, per output channel, a float scale, a zero point and an int32 bias with its
      // own scale: well under a third for these nets. Not for mobilenet-tiny, whose depthwise filters
      // have 9 weights per channel, so the per-channel extras (~17 bytes) outweigh the 27 saved.
      const ratio = weightBytes(files.get('int8')!) / weightBytes(files.get('fp32')!);
      assert.ok(ratio < (student.key === 'mobilenet-tiny' ? 0.75 : 0.33), `int8/fp32 weight bytes ${ratio.toFixed(3)}`);
      assert.ok(int8.sizeBytes < fp32.sizeBytes);
      const kernels = int8.optimized!.integerKernels;
      assert.ok(kernels.includes('QGemm'), kernels.join(' '));
      if (student.key !== 'mlp') assert.ok(kernels.includes('QLinearConv'), kernels.join(' '));
      if (student.key === 'resnet8') assert.ok(kernels.includes('QLinearAdd'), 'residual Add runs in int8');
      if (student.key === 'resnet8' || student.key === 'mobilenet-tiny')
        assert.ok(kernels.includes('QLinearGlobalAveragePool'));
      assert.deepEqual(int8.optimized!.floatCompute, [], 'no float compute left after fusion');
      assert.equal(int8.optimized!.dequantizeLinear, 0, 'every DequantizeLinear was fused away');
      assert.ok(int8.fidelity >= 0.9, `int8 fidelity ${int8.fidelity}`);
    } finally {
      model.dispose();
    }
  });
}

test('NHWC input layout in int8: the same integer kernels, no input transpose needed', async () => {
  const model = listStudents()
    .find((s) => s.key === 'resnet8')!
    .build({ inputShape: [28, 28, 1], numClasses: 10, seed: 5 });
  randomizeBatchNorm(model, new Rng(4));
  const { reports: r } = await exportAndProve(model, 'resnet8', 'NHWC', ['fp32', 'int8']);
  assert.ok(r.get('fp32')!.maxAbsDiff <= FP32_PARITY_BOUND);
  assert.ok(r.get('int8')!.optimized!.integerKernels.includes('QLinearConv'));
  assert.deepEqual(r.get('int8')!.optimized!.floatCompute, []);
  model.dispose();
});

/**
 * tfjs 4.22's Conv2D has no `groups` option, so a grouped convolution reaches the exporter only as a
 * depthwise convolution with a channel multiplier (groups = input channels); this model has one,
 * plus Concat, average pooling, a Mul gate and a channel softmax, which the zoo does not use.
 */
function groupedNet(seed: number): tf.LayersModel {
  assert.equal(
    'groups' in tf.layers.conv2d({ filters: 1, kernelSize: 1 }).getConfig(),
    false,
    'tfjs Conv2D grew a groups option: export it as a grouped Conv',
  );
  const init = () => tf.initializers.glorotUniform({ seed: seed++ });
  const input = tf.input({ shape: [28, 28, 1] });
  const stem = tf.layers
    .conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init() })
    .apply(input) as tf.SymbolicTensor;
  const grouped = tf.layers
    .depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same', depthwiseInitializer: init() })
    .apply(stem) as tf.SymbolicTensor;
  const bn = tf.layers.batchNormalization({}).apply(grouped) as tf.SymbolicTensor;
  const act = tf.layers.reLU({ maxValue: 6 }).apply(bn) as tf.SymbolicTensor;
  const side = tf.layers
    .conv2d({ filters: 8, kernelSize: 1, strides: 2, kernelInitializer: init() })
    .apply(stem) as tf.SymbolicTensor;
  const gate = tf.layers.multiply({}).apply([act, side]) as tf.SymbolicTensor;
  const cat = tf.layers.concatenate({}).apply([act, gate]) as tf.SymbolicTensor;
  const pooled = tf.layers.averagePooling2d({ poolSize: 2, strides: 2 }).apply(cat) as tf.SymbolicTensor;
  const sm = tf.layers.softmax({ axis: -1 }).apply(pooled) as tf.SymbolicTensor;
  const drop = tf.layers.dropout({ rate: 0.3 }).apply(sm) as tf.SymbolicTensor;
  const flat = tf.layers.flatten({}).apply(drop) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 10, kernelInitializer: init() }).apply(flat) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

test('grouped (depthwise multiplier 2) conv, Concat, AveragePool and Mul quantize to integer kernels', async () => {
  const model = groupedNet(21);
  randomizeBatchNorm(model, new Rng(8));
  const { reports: r } = await exportAndProve(model, 'grouped', 'NCHW');
  assert.ok(r.get('fp32')!.maxAbsDiff <= FP32_PARITY_BOUND);
  const kernels = r.get('int8')!.optimized!.integerKernels;
  for (const k of ['QLinearConv', 'QLinearMul', 'QLinearConcat', 'QLinearAveragePool', 'QGemm'])
    assert.ok(kernels.includes(k), `${k} in ${kernels.join(' ')}`);
  // The pass leaves Softmax in float, but it sits between a DQ and a Q, which ORT fuses too.
  assert.deepEqual(r.get('int8')!.optimized!.floatCompute, []);
  model.dispose();
});

test('an fp32 export that does not match its student is refused', async () => {
  const a = listStudents()
    .find((s) => s.key === 'mlp')!
    .build({ inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
  const b = listStudents()
    .find((s) => s.key === 'mlp')!
    .build({ inputShape: [28, 28, 1], numClasses: 10, seed: 2 });
  const [wrong] = await exportPrecisions(b, { precisions: ['fp32'] });
  await assert.rejects(verifyPrecision(wrong, evalSet, await studentReference(a, evalSet)), ParityError);
  a.dispose();
  b.dispose();
});

test('measured per-precision results', (t) => {
  for (const line of table) t.diagnostic(line);
  t.diagnostic('onnx.checker(full_check=True) ran on every file');
});
