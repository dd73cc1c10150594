import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { getStudent, listStudents } from '../../src-main/students/index.ts';
import { exportToOnnx, irVersionForOpset, type InputLayout } from '../../src-main/export/onnx-export.ts';
import { checkOnnxParity } from '../../src-main/export/parity.ts';
import { tfPads } from '../../src-main/export/tfjs-to-onnx.ts';
import { onnx } from '../../src-main/export/onnx-proto.ts';
import { Rng } from '../../src-main/util/rng.ts';
import { checkWithOnnxChecker } from './helpers.ts';

await tf.setBackend('cpu');

const TOLERANCE = 1e-4;
const workDir = mkdtempSync(path.join(tmpdir(), 'onnx-export-test-'));
process.on('exit', () => rmSync(workDir, { recursive: true, force: true }));

/**
 * Fresh BN layers are the identity (gamma 1, beta 0, mean 0, var 1), which would let
 * a wrong fold pass; random statistics make every term of the fold matter.
 */
function randomizeBatchNorm(model: tf.LayersModel, rng: Rng): void {
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const ws = layer.weights;
    const values = ws.map((w) => {
      const n = w.shape[0] as number;
      const name = w.originalName;
      const data = Float32Array.from({ length: n }, () =>
        name.endsWith('gamma')
          ? 0.5 + rng.next()
          : name.endsWith('moving_variance')
            ? 0.3 + 1.5 * rng.next()
            : 0.5 * rng.normal(),
      );
      return tf.tensor1d(data);
    });
    layer.setWeights(values);
    values.forEach((v) => v.dispose());
  }
}

function randomInputs(rng: Rng, n: number, shape: number[]): Float32Array {
  return Float32Array.from({ length: n * shape.reduce((a, d) => a * d, 1) }, () => rng.normal());
}

function decode(bytes: Uint8Array) {
  return onnx.ModelProto.decode(bytes);
}

function opTypes(bytes: Uint8Array): string[] {
  return (decode(bytes).graph?.node ?? []).map((n) => n.opType ?? '');
}

async function assertParity(
  model: tf.LayersModel,
  bytes: Uint8Array,
  inputShape: number[],
  layout: InputLayout,
  rng: Rng,
) {
  const results = [];
  // Batch sizes other than the 8 used for the main check prove the batch axis is symbolic.
  for (const n of [8, 1, 5]) {
    const r = await checkOnnxParity(model, bytes, randomInputs(rng, n, inputShape), n, { inputLayout: layout });
    assert.equal(r.samples, n);
    assert.ok(r.ok && r.maxAbsDiff <= TOLERANCE, `batch ${n}: max |diff| ${r.maxAbsDiff}`);
    results.push(r.maxAbsDiff);
  }
  return Math.max(...results);
}

const measured: string[] = [];

const ZOO_CASES: { shape: [number, number, number]; layouts: InputLayout[] }[] = [
  { shape: [28, 28, 1], layouts: ['NCHW', 'NHWC'] },
  { shape: [32, 32, 3], layouts: ['NHWC'] },
];

for (const student of listStudents()) {
  for (const { shape, layouts } of ZOO_CASES) {
    for (const layout of layouts) {
      test(`${student.key} ${shape.join('x')} exports to ONNX (${layout}) matching tfjs`, async () => {
        const rng = new Rng(1234);
        const model = student.build({ inputShape: shape, numClasses: 10, seed: 99 });
        randomizeBatchNorm(model, rng);
        try {
          const exported = await exportToOnnx(model, { inputLayout: layout });
          const [h, w, c] = shape;
          assert.deepEqual(exported.inputShape, layout === 'NCHW' ? ['N', c, h, w] : ['N', h, w, c]);
          assert.equal(exported.opset, 13);
          assert.equal(exported.inputName, 'input');
          assert.equal(exported.outputName, 'logits');

          const proto = decode(exported.bytes);
          const ops = opTypes(exported.bytes);
          assert.equal(exported.nodeCount, ops.length);
          assert.ok(!ops.includes('BatchNormalization'), `BN is folded (ops: ${ops.join(', ')})`);
          const outDims = proto.graph?.output?.[0].type?.tensorType?.shape?.dim ?? [];
          assert.equal(outDims[0].dimParam, 'N');
          assert.equal(Number(outDims[1].dimValue), 10);
          // The NCHW graph needs no input transpose; NHWC needs exactly one for conv nets.
          const transposes = ops.filter((o) => o === 'Transpose').length;
          if (student.key !== 'mlp' && layout === 'NHWC') assert.ok(transposes >= 1);
          if (student.key === 'mlp' && layout === 'NHWC') assert.equal(transposes, 0);

          const diff = await assertParity(model, exported.bytes, shape, layout, rng);
          measured.push(`${student.key} ${shape.join('x')} ${layout}: ${diff.toExponential(2)}`);

          const file = path.join(workDir, `${student.key}-${shape.join('x')}-${layout}.onnx`);
          writeFileSync(file, exported.bytes);
          checkWithOnnxChecker(file);
        } finally {
          model.dispose();
        }
      });
    }
  }
}

test('odd spatial sizes (asymmetric SAME padding) still match', async () => {
  const rng = new Rng(5);
  for (const key of ['mobilenet-tiny', 'resnet8', 'lenet5']) {
    const shape: [number, number, number] = [15, 13, 2];
    const model = getStudent(key).build({ inputShape: shape, numClasses: 4, seed: 3 });
    randomizeBatchNorm(model, rng);
    const exported = await exportToOnnx(model);
    const r = await checkOnnxParity(model, exported.bytes, randomInputs(rng, 4, shape), 4);
    assert.ok(r.ok, `${key}: ${r.maxAbsDiff}`);
    model.dispose();
  }
});

/**
 * A functional model built to hit the paths the zoo does not: separable conv with a
 * folded BN, a conv whose output feeds both a BN and another branch (BN cannot fold),
 * BN after Dense, dilation, SAME pooling on odd sizes, concat/multiply in NCHW,
 * dropout, a channel softmax, and activations fused into conv and dense.
 */
function kitchenSink(seed: number): tf.LayersModel {
  const init = () => tf.initializers.glorotUniform({ seed: seed++ });
  const input = tf.input({ shape: [11, 9, 3], name: 'img' });
  const c1 = tf.layers
    .conv2d({ name: 'c1', filters: 6, kernelSize: 3, padding: 'same', kernelInitializer: init() })
    .apply(input) as tf.SymbolicTensor;
  const bn1 = tf.layers.batchNormalization({ name: 'bn_shared' }).apply(c1) as tf.SymbolicTensor;
  const side = tf.layers.leakyReLU({ name: 'side_leaky', alpha: 0.2 }).apply(c1) as tf.SymbolicTensor;
  const cat = tf.layers.concatenate({ name: 'cat' }).apply([bn1, side]) as tf.SymbolicTensor;
  const sep = tf.layers
    .separableConv2d({
      name: 'sep',
      filters: 8,
      kernelSize: 3,
      depthMultiplier: 2,
      strides: 2,
      padding: 'same',
      depthwiseInitializer: init(),
      pointwiseInitializer: init(),
    })
    .apply(cat) as tf.SymbolicTensor;
  const sepBn = tf.layers.batchNormalization({ name: 'sep_bn', epsilon: 1e-5 }).apply(sep) as tf.SymbolicTensor;
  const dil = tf.layers
    .conv2d({
      name: 'dilated',
      filters: 8,
      kernelSize: 3,
      dilationRate: 2,
      padding: 'same',
      activation: 'elu',
      kernelInitializer: init(),
    })
    .apply(sepBn) as tf.SymbolicTensor;
  const mul = tf.layers.multiply({ name: 'gate' }).apply([dil, sepBn]) as tf.SymbolicTensor;
  const mp = tf.layers
    .maxPooling2d({ name: 'mp', poolSize: 3, strides: 2, padding: 'same' })
    .apply(mul) as tf.SymbolicTensor;
  const ap = tf.layers
    .averagePooling2d({ name: 'ap', poolSize: 2, strides: 1, padding: 'same' })
    .apply(mp) as tf.SymbolicTensor;
  // Softmax over the channel axis of a feature map: axis -1 in tfjs is axis 1 in NCHW.
  const act = tf.layers.softmax({ name: 'channel_softmax', axis: -1 }).apply(ap) as tf.SymbolicTensor;
  const drop = tf.layers.dropout({ name: 'drop', rate: 0.5 }).apply(act) as tf.SymbolicTensor;
  const flat = tf.layers.flatten({ name: 'flat' }).apply(drop) as tf.SymbolicTensor;
  const fc = tf.layers
    .dense({ name: 'fc', units: 12, activation: 'relu6', kernelInitializer: init() })
    .apply(flat) as tf.SymbolicTensor;
  const fcBn = tf.layers.batchNormalization({ name: 'fc_bn' }).apply(fc) as tf.SymbolicTensor;
  const squashed = tf.layers.activation({ name: 'act_tanh', activation: 'tanh' }).apply(fcBn) as tf.SymbolicTensor;
  const out = tf.layers
    .dense({ name: 'logits', units: 5, kernelInitializer: init() })
    .apply(squashed) as tf.SymbolicTensor;
  return tf.model({ name: 'kitchen_sink', inputs: input, outputs: out });
}

test('mixed functional model: unfoldable BN kept, foldable BN folded, outputs match', async () => {
  const rng = new Rng(77);
  const model = kitchenSink(10);
  randomizeBatchNorm(model, rng);
  for (const layout of ['NCHW', 'NHWC'] as const) {
    const exported = await exportToOnnx(model, { inputLayout: layout });
    const ops = opTypes(exported.bytes);
    // bn_shared's conv output also feeds side_leaky, and fc_bn follows a Dense: both stay.
    assert.equal(ops.filter((o) => o === 'BatchNormalization').length, 2, ops.join(', '));
    for (const op of [
      'Concat',
      'Mul',
      'MaxPool',
      'AveragePool',
      'Clip',
      'Softmax',
      'LeakyRelu',
      'Elu',
      'Tanh',
      'Gemm',
    ]) {
      assert.ok(ops.includes(op), `${op} present`);
    }
    assert.ok(!ops.includes('Dropout'));
    const diff = await assertParity(model, exported.bytes, [11, 9, 3], layout, rng);
    measured.push(`kitchen-sink ${layout}: ${diff.toExponential(2)}`);
    const file = path.join(workDir, `kitchen-${layout}.onnx`);
    writeFileSync(file, exported.bytes);
    checkWithOnnxChecker(file);
  }
  model.dispose();
});

test('metadata, names, opset and IR version are written', async () => {
  const model = getStudent('lenet5-half').build({ inputShape: [28, 28, 1], numClasses: 3, seed: 1 });
  const exported = await exportToOnnx(model, {
    opset: 17,
    inputName: 'pixels',
    outputName: 'scores',
    docString: 'test student',
    metadata: { recipe: 'r1', runId: 'abc' },
  });
  const proto = decode(exported.bytes);
  assert.equal(Number(proto.irVersion), 8);
  assert.deepEqual(
    proto.opsetImport.map((o) => [o.domain, Number(o.version)]),
    [['', 17]],
  );
  assert.equal(proto.producerName, 'distill-workbench');
  assert.equal(proto.docString, 'test student');
  const meta = Object.fromEntries(proto.metadataProps.map((p) => [p.key, p.value]));
  assert.equal(meta.producer, 'distill-workbench');
  assert.equal(meta.recipe, 'r1');
  assert.equal(meta.runId, 'abc');
  assert.equal(meta.input_layout, 'NCHW');
  const session = await ort.InferenceSession.create(Buffer.from(exported.bytes));
  assert.deepEqual(session.inputNames, ['pixels']);
  assert.deepEqual(session.outputNames, ['scores']);
  await session.release();
  const r = await checkOnnxParity(model, exported.bytes, randomInputs(new Rng(1), 2, [28, 28, 1]), 2);
  assert.ok(r.ok);

  assert.equal(Number(decode((await exportToOnnx(model)).bytes).irVersion), 7);
  assert.deepEqual([13, 14, 15, 18, 19, 20, 21].map(irVersionForOpset), [7, 7, 8, 8, 9, 9, 10]);
  await assert.rejects(exportToOnnx(model, { opset: 11 }), /opset 11/);
  await assert.rejects(exportToOnnx(model, { inputName: 'x', outputName: 'x' }), /differ/);
  model.dispose();
});

test('SAME padding follows TensorFlow, odd leftovers at the end', () => {
  assert.deepEqual(tfPads('same', 28, 3, 2, 1), [0, 1]);
  assert.deepEqual(tfPads('same', 15, 3, 2, 1), [1, 1]);
  assert.deepEqual(tfPads('same', 5, 2, 2, 1), [0, 1]);
  assert.deepEqual(tfPads('same', 7, 5, 1, 1), [2, 2]);
  assert.deepEqual(tfPads('same', 9, 3, 1, 2), [2, 2]);
  assert.deepEqual(tfPads('same', 8, 1, 2, 1), [0, 0]);
  assert.deepEqual(tfPads('valid', 28, 5, 1, 1), [0, 0]);
  assert.throws(() => tfPads('causal', 8, 3, 1, 1), /causal/);
});

test('an unsupported layer fails with its class and name', async () => {
  const model = tf.sequential({ name: 'upsampler' });
  model.add(tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 2, kernelSize: 3, name: 'c' }));
  model.add(tf.layers.upSampling2d({ size: [2, 2], name: 'grow' }));
  model.add(tf.layers.flatten({ name: 'f' }));
  model.add(tf.layers.dense({ units: 2, name: 'out' }));
  await assert.rejects(exportToOnnx(model), (err: Error) => {
    assert.match(err.message, /UpSampling2D/);
    assert.match(err.message, /"grow"/);
    assert.match(err.message, /Supported layer classes/);
    return true;
  });
  model.dispose();
});

test('parity reports a mismatch when the file is not the model', async () => {
  const a = getStudent('mlp').build({ inputShape: [8, 8, 1], numClasses: 3, seed: 1 });
  const b = getStudent('mlp').build({ inputShape: [8, 8, 1], numClasses: 3, seed: 2 });
  const r = await checkOnnxParity(a, (await exportToOnnx(b)).bytes, randomInputs(new Rng(2), 3, [8, 8, 1]), 3);
  assert.equal(r.ok, false);
  assert.ok(r.maxAbsDiff > TOLERANCE);
  await assert.rejects(checkOnnxParity(a, (await exportToOnnx(a)).bytes, new Float32Array(10), 3), /needs|need/);
  a.dispose();
  b.dispose();
});

test('measured parity', (t) => {
  t.diagnostic(`max |ONNX - tfjs| per export: ${measured.join('; ')}`);
  t.diagnostic('onnx.checker(full_check=True) ran on every file');
});
