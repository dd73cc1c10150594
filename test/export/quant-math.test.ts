/** The arithmetic under fp16 and int8: golden values from the IEEE 754 and ONNX operator specs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { toHalfBits, fromHalfBits } from '../../src-main/export/float16.ts';
import {
  activationParams,
  quantizeBias,
  quantizeWeightsPerChannel,
  roundHalfEven,
} from '../../src-main/export/quant-params.ts';
import { percentile } from '../../src-main/export/latency.ts';
import { parsePrecisions } from '../../src-main/export/precisions.ts';
import { buildOnnxModel } from '../../src-main/export/onnx-export.ts';
import { quantizeQdq } from '../../src-main/export/qdq-quantize.ts';
import { toFp16Weights } from '../../src-main/export/fp16-weights.ts';
import { getStudent } from '../../src-main/students/index.ts';
import { UnknownPrecisionError, QuantizationError } from '../../src-main/export/errors.ts';

await tf.setBackend('cpu');

test('float16 bits: exact values, rounding to nearest even, overflow and subnormals', () => {
  assert.equal(toHalfBits(1), 0x3c00);
  assert.equal(toHalfBits(-2), 0xc000);
  assert.equal(toHalfBits(65504), 0x7bff); // largest finite half
  assert.equal(toHalfBits(65520), 0x7c00); // rounds up to Inf
  assert.equal(toHalfBits(2 ** -24), 0x0001); // smallest subnormal
  assert.equal(toHalfBits(2 ** -25), 0x0000); // a tie, rounds to even (0)
  assert.equal(toHalfBits(0.1), 0x2e66);
  assert.equal(toHalfBits(1 + 2 ** -11), 0x3c00); // tie between 1 and 1+2^-10: even mantissa wins
  assert.equal(toHalfBits(1 + 3 * 2 ** -11), 0x3c02);
  assert.equal(toHalfBits(NaN) & 0x7e00, 0x7e00);
  // Values a half holds exactly, normal and subnormal, survive the round trip unchanged.
  for (const v of [0.5, -3.25, 1024, 2 ** -14, 2 ** -20, -3 * 2 ** -24]) assert.equal(fromHalfBits(toHalfBits(v)), v);
  assert.ok(Math.abs(fromHalfBits(toHalfBits(0.1)) - 0.1) < 2 ** -14);
});

test('QuantizeLinear rounding is half to even', () => {
  assert.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, 2.6].map(roundHalfEven), [0, 2, 2, -0, -2, 2, 3]);
});

test('uint8 activation parameters cover the range and represent 0 exactly', () => {
  const relu = activationParams({ min: 0, max: 6 });
  assert.equal(relu.zeroPoint, 0);
  assert.ok(Math.abs(relu.scale - 6 / 255) < 1e-9);
  const signed = activationParams({ min: -1, max: 3 });
  assert.equal(signed.zeroPoint, 64); // round(1 / (4/255)) = round(63.75)
  const positive = activationParams({ min: 2, max: 4 }); // widened to include 0
  assert.equal(positive.zeroPoint, 0);
  assert.ok(Math.abs(positive.scale - 4 / 255) < 1e-9);
  assert.deepEqual(activationParams({ min: 0, max: 0 }), { scale: 1, zeroPoint: 0 });
  assert.throws(() => activationParams({ min: NaN, max: 1 }), RangeError);
});

test('per-channel symmetric int8 weights and int32 bias', () => {
  const w = Float32Array.from([0.5, -1, 0.25, 0, 0, 0, 2, 1, -2]);
  const q = quantizeWeightsPerChannel(w, 3);
  assert.deepEqual(Array.from(q.scales), [Math.fround(1 / 127), 1, Math.fround(2 / 127)]);
  assert.deepEqual(Array.from(q.values), [64, -127, 32, 0, 0, 0, 127, 64, -127]);
  const b = quantizeBias(Float32Array.from([0.1, -0.2, 0]), 0.5, q.scales);
  assert.deepEqual(
    Array.from(b.scales),
    Array.from(q.scales).map((s) => Math.fround(0.5 * s)),
  );
  assert.equal(b.values[0], Math.round(0.1 / Math.fround(0.5 / 127)));
  assert.equal(b.values[1], 0); // -0.2 / (0.5 * 1) = -0.4 rounds to 0
  assert.throws(() => quantizeWeightsPerChannel(w, 4), RangeError);
});

test('percentile is nearest-rank', () => {
  const v = Array.from({ length: 200 }, (_, i) => i + 1);
  assert.equal(percentile(v, 50), 100);
  assert.equal(percentile(v, 95), 190);
  assert.ok(Number.isNaN(percentile([], 50)));
});

test('precision lists are validated', () => {
  assert.deepEqual(parsePrecisions('int8, fp32,int8'), ['int8', 'fp32']);
  assert.throws(() => parsePrecisions('fp64'), UnknownPrecisionError);
  assert.throws(() => parsePrecisions(' , '), UnknownPrecisionError);
});

test('the QDQ graph: ReLU folded, int8 per-channel weights along axis 0, int32 bias, float output', async () => {
  const model = getStudent('lenet5-half').build({ inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
  const { proto } = await buildOnnxModel(model);
  const ranges = new Map<string, { min: number; max: number }>();
  for (const n of proto.graph!.node!) for (const o of n.output!) ranges.set(o, { min: -1, max: 1 });
  ranges.set('input', { min: 0, max: 1 });
  const { model: q, summary } = quantizeQdq(proto, ranges);
  const nodes = q.graph!.node!;
  const ops = nodes.map((n) => n.opType);
  assert.equal(ops.filter((o) => o === 'Relu').length, 0, 'all four ReLUs follow a Conv or Gemm and are folded');
  assert.equal(summary.foldedActivations, 4);
  const inits = new Map(q.graph!.initializer!.map((t) => [t.name!, t]));
  for (const op of ['Conv', 'Gemm']) {
    for (const n of nodes.filter((x) => x.opType === op)) {
      const wDq = nodes.find((x) => x.output![0] === n.input![1])!;
      assert.equal(wDq.opType, 'DequantizeLinear');
      assert.equal(inits.get(wDq.input![0])!.dataType, 3 /* INT8 */);
      assert.equal(wDq.attribute!.find((a) => a.name === 'axis')!.i, 0);
      const bDq = nodes.find((x) => x.output![0] === n.input![2])!;
      assert.equal(inits.get(bDq.input![0])!.dataType, 6 /* INT32 */);
    }
  }
  assert.ok(
    nodes.every(
      (n) => !n.input!.some((i) => inits.get(i)?.dataType === 1 /* FLOAT */ && inits.get(i)!.dims!.length > 1),
    ),
    'no float weight left',
  );
  assert.equal(nodes[nodes.length - 1].opType, 'Gemm', 'the logits stay float: no Q after the last Gemm');
  assert.throws(() => quantizeQdq(proto, new Map()), QuantizationError);
  model.dispose();
});

test('fp16 weights keep the graph interface and name every Cast after the weight it restores', async () => {
  const model = getStudent('mlp').build({ inputShape: [8, 8, 1], numClasses: 3, seed: 1 });
  const { proto } = await buildOnnxModel(model);
  const half = toFp16Weights(proto);
  const casts = half.graph!.node!.filter((n) => n.opType === 'Cast');
  const floatWeights = proto.graph!.initializer!.filter((t) => t.dims!.length > 0);
  assert.equal(casts.length, floatWeights.length);
  assert.deepEqual(casts.map((c) => c.output![0]).sort(), floatWeights.map((t) => t.name!).sort());
  assert.ok(half.graph!.initializer!.filter((t) => t.dims!.length > 0).every((t) => t.dataType === 10 /* FLOAT16 */));
  assert.equal(
    proto.graph!.initializer!.every((t) => t.dataType === 1),
    true,
    'the fp32 source is untouched',
  );
  model.dispose();
});
