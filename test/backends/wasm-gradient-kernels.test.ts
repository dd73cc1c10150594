// Gradients of conv2d / depthwiseConv2d on wasm (with our composed kernels) must match the
// reference cpu backend. Error measure: relErr(a, ref) = max|a - ref| / max(max|ref|, 1e-6).
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import {
  registerWasmGradientKernels,
  WASM_GRADIENT_KERNEL_NAMES,
} from '../../src-main/backends/wasm-gradient-kernels.ts';
import { wasmBinaryDir } from '../../src-main/backends/select-backend.ts';
import { registerWasmFastKernels } from '../../src-main/backends/wasm-fast-kernels.ts';
import { Rng } from '../../src-main/util/rng.ts';

const TOL = 1e-4;
const worst = { conv2d: 0, depthwise: 0 };

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

interface Case {
  x: [number, number, number, number];
  f: [number, number, number, number];
  stride: number;
  pad: Pad;
}

function randomArray(n: number, rng: Rng): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal();
  return a;
}

function relErr(a: Float32Array, ref: Float32Array): number {
  assert.equal(a.length, ref.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return diff / Math.max(scale, 1e-6);
}

type Op = 'conv2d' | 'depthwise';

function forward(op: Op, x: tf.Tensor4D, w: tf.Tensor4D, c: Case): tf.Tensor4D {
  return op === 'conv2d' ? tf.conv2d(x, w, c.stride, c.pad) : tf.depthwiseConv2d(x, w, c.stride, c.pad);
}

function outShape(op: Op, c: Case): number[] {
  return tf.backend_util.computeConv2DInfo(c.x, c.f, c.stride, 1, c.pad, undefined, op === 'depthwise').outShape;
}

/** Gradients of sum(conv(x, w) * r) w.r.t. x and w, computed on `backend` from fixed data. */
async function grads(backend: string, op: Op, c: Case, data: Float32Array[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const [xv, wv, rv] = data;
  const out = tf.tidy(() => {
    const x = tf.tensor4d(xv, c.x);
    const w = tf.tensor4d(wv, c.f);
    const r = tf.tensor(rv, outShape(op, c));
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(forward(op, a as tf.Tensor4D, b as tf.Tensor4D, c), r)),
    );
    return g([x, w]);
  });
  const vals = out.map((t) => t.dataSync() as Float32Array);
  tf.dispose(out);
  return vals;
}

async function check(op: Op, c: Case, seed: number): Promise<void> {
  const rng = new Rng(seed);
  const size = (s: number[]) => s.reduce((p, q) => p * q, 1);
  const data = [randomArray(size(c.x), rng), randomArray(size(c.f), rng), randomArray(size(outShape(op, c)), rng)];
  const [refX, refW] = await grads('cpu', op, c, data);
  const [gotX, gotW] = await grads('wasm', op, c, data);
  const ex = relErr(gotX, refX);
  const ew = relErr(gotW, refW);
  worst[op] = Math.max(worst[op], ex, ew);
  assert.ok(ex <= TOL, `d/dx rel err ${ex}`);
  assert.ok(ew <= TOL, `d/dw rel err ${ew}`);
}

function label(c: Case): string {
  const pad = typeof c.pad === 'string' ? c.pad : `explicit ${JSON.stringify(c.pad.slice(1, 3))}`;
  return `x ${c.x.join('x')} f ${c.f.join('x')} stride ${c.stride} ${pad}`;
}

before(async () => {
  setWasmPaths(wasmBinaryDir());
  assert.ok(await tf.setBackend('wasm'), 'wasm backend should initialise');
  registerWasmGradientKernels();
  // Conv2DBackpropInput (d/dx of every conv2d case below) is the replacement from wasm-fast-kernels.
  registerWasmFastKernels();
});

describe('wasm gradient kernels', () => {
  test('registration is idempotent and covers the missing kernels', () => {
    assert.deepEqual(registerWasmGradientKernels(), []);
    for (const name of WASM_GRADIENT_KERNEL_NAMES) assert.ok(tf.getKernel(name, 'wasm'), name);
  });

  const convCases: Case[] = [
    { x: [2, 7, 7, 1], f: [3, 3, 1, 2], stride: 1, pad: 'same' },
    { x: [2, 7, 7, 1], f: [3, 3, 1, 2], stride: 1, pad: 'valid' },
    { x: [3, 7, 7, 3], f: [3, 3, 3, 4], stride: 2, pad: 'same' },
    { x: [3, 7, 7, 3], f: [5, 5, 3, 4], stride: 2, pad: 'valid' },
    { x: [2, 28, 28, 3], f: [3, 3, 3, 8], stride: 2, pad: 'same' },
    { x: [2, 28, 28, 3], f: [5, 5, 3, 8], stride: 1, pad: 'valid' },
    { x: [4, 9, 8, 2], f: [3, 3, 2, 5], stride: 2, pad: 'valid' },
    { x: [4, 8, 9, 2], f: [5, 5, 2, 3], stride: 2, pad: 'same' },
    { x: [2, 7, 7, 2], f: [1, 1, 2, 3], stride: 2, pad: 'valid' },
    {
      x: [2, 7, 6, 2],
      f: [3, 3, 2, 3],
      stride: 1,
      pad: [
        [0, 0],
        [2, 0],
        [1, 3],
        [0, 0],
      ],
    },
    // One input channel at stride 1: the filter gradient runs as WebAssembly passes on the heap
    // (LeNet-5 and its half-width first layers; an output width that is not a multiple of 4).
    { x: [3, 28, 28, 1], f: [5, 5, 1, 3], stride: 1, pad: 'same' },
    { x: [2, 28, 28, 1], f: [5, 5, 1, 6], stride: 1, pad: 'same' },
    { x: [2, 9, 10, 1], f: [3, 2, 1, 5], stride: 1, pad: 'valid' },
    {
      x: [2, 7, 6, 1],
      f: [3, 3, 1, 3],
      stride: 1,
      pad: [
        [0, 0],
        [2, 0],
        [1, 3],
        [0, 0],
      ],
    },
    // Pointwise, stride 1: the filter gradient is one matrix product (MobileNet-tiny's 16 -> 32 too).
    { x: [2, 7, 7, 16], f: [1, 1, 16, 32], stride: 1, pad: 'same' },
    { x: [3, 5, 6, 3], f: [1, 1, 3, 5], stride: 1, pad: 'valid' },
    // Pointwise with explicit padding: not a plain product, so the convolution path.
    {
      x: [2, 5, 5, 2],
      f: [1, 1, 2, 3],
      stride: 1,
      pad: [
        [0, 0],
        [1, 0],
        [0, 1],
        [0, 0],
      ],
    },
  ];
  for (const [i, c] of convCases.entries()) {
    test(`conv2d ${label(c)}`, () => check('conv2d', c, 100 + i));
  }

  const dwCases: Case[] = [
    { x: [2, 7, 7, 3], f: [3, 3, 3, 1], stride: 1, pad: 'same' },
    { x: [2, 7, 7, 3], f: [3, 3, 3, 1], stride: 1, pad: 'valid' },
    { x: [3, 7, 7, 2], f: [3, 3, 2, 1], stride: 2, pad: 'same' },
    { x: [3, 7, 7, 2], f: [3, 3, 2, 1], stride: 2, pad: 'valid' },
    { x: [2, 28, 28, 3], f: [5, 5, 3, 1], stride: 2, pad: 'same' },
    { x: [2, 28, 28, 3], f: [3, 3, 3, 1], stride: 1, pad: 'valid' },
    { x: [4, 8, 9, 4], f: [5, 5, 4, 1], stride: 2, pad: 'valid' },
    { x: [2, 8, 7, 3], f: [3, 3, 3, 2], stride: 2, pad: 'same' },
    { x: [2, 7, 7, 2], f: [3, 3, 2, 3], stride: 1, pad: 'valid' },
    { x: [2, 7, 7, 2], f: [1, 1, 2, 1], stride: 2, pad: 'valid' },
    {
      x: [2, 6, 7, 2],
      f: [3, 3, 2, 1],
      stride: 1,
      pad: [
        [0, 0],
        [4, 0],
        [0, 3],
        [0, 0],
      ],
    },
    // MobileNet-tiny widths (16 and 32 channels).
    { x: [2, 7, 7, 16], f: [3, 3, 16, 1], stride: 1, pad: 'same' },
    { x: [3, 9, 8, 32], f: [3, 3, 32, 1], stride: 2, pad: 'same' },
    { x: [2, 8, 7, 16], f: [5, 5, 16, 1], stride: 2, pad: 'valid' },
    {
      x: [2, 6, 7, 16],
      f: [3, 3, 16, 1],
      stride: 1,
      pad: [
        [0, 0],
        [4, 0],
        [0, 3],
        [0, 0],
      ],
    },
  ];
  for (const [i, c] of dwCases.entries()) {
    const m = c.f[3] > 1 ? ` multiplier ${c.f[3]}` : '';
    test(`depthwiseConv2d ${label(c)}${m}`, () => check('depthwise', c, 200 + i));
  }

  test('a one-channel, stride-1 filter gradient runs as heap passes, not the composed convolution', async () => {
    const x = tf.randomUniform([2, 12, 12, 1], -1, 1, 'float32', 7) as tf.Tensor4D;
    const dy = tf.randomUniform([2, 12, 12, 3], -1, 1, 'float32', 8) as tf.Tensor4D;
    const attrs = {
      strides: [1, 1],
      pad: 'same',
      dataFormat: 'NHWC',
      dimRoundingMode: undefined,
      filterShape: [5, 5, 1, 3],
    };
    let out: tf.Tensor | undefined;
    const info = await tf.profile(() => {
      out = tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
    });
    assert.deepEqual(
      info.kernels.map((k) => k.name),
      ['Conv2DBackpropFilter'],
    );
    assert.deepEqual(out!.shape, [5, 5, 1, 3]);
    tf.dispose([x, dy, out!]);
  });

  test('Conv2DBackpropFilter also handles NCHW inputs (kernel called directly)', async () => {
    const rng = new Rng(7);
    const xv = randomArray(2 * 3 * 9 * 8, rng);
    const dyv = randomArray(2 * 4 * 5 * 4, rng);
    const attrs = {
      strides: 2,
      pad: 'same',
      dataFormat: 'NCHW',
      filterShape: [3, 3, 3, 4],
    } as unknown as tf.NamedAttrMap;
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      const x = tf.tensor4d(xv, [2, 3, 9, 8]);
      const dy = tf.tensor4d(dyv, [2, 4, 5, 4]);
      const out = tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, attrs) as tf.Tensor;
      const vals = out.dataSync() as Float32Array;
      tf.dispose([x, dy, out]);
      return vals;
    };
    const ref = await run('cpu');
    const err = relErr(await run('wasm'), ref);
    worst.conv2d = Math.max(worst.conv2d, err);
    assert.ok(err <= TOL, `rel err ${err}`);
  });

  test('no tensors or wasm memory leak across repeated gradient steps', async () => {
    await tf.setBackend('wasm');
    const x = tf.randomNormal([2, 9, 9, 3]) as tf.Tensor4D;
    const w = tf.randomNormal([3, 3, 3, 4]) as tf.Tensor4D;
    const dw = tf.randomNormal([3, 3, 3, 1]) as tf.Tensor4D;
    const step = () => {
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor, d: tf.Tensor) => {
        const y = tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same');
        return tf.sum(tf.depthwiseConv2d(y.slice([0, 0, 0, 0], [-1, -1, -1, 3]), d as tf.Tensor4D, 2, 'valid'));
      })([x, w, dw]);
      g.forEach((t) => t.dataSync());
      tf.dispose(g);
    };
    step();
    const before = tf.memory();
    for (let i = 0; i < 5; i++) step();
    const after = tf.memory();
    assert.equal(after.numTensors, before.numTensors);
    assert.equal(after.numDataBuffers, before.numDataBuffers);
    assert.equal(after.numBytes, before.numBytes);
    tf.dispose([x, w, dw]);
  });

  test('kernels accept plain TensorInfo inputs without freeing or leaking them', async () => {
    await tf.setBackend('wasm');
    const x = tf.randomNormal([2, 7, 7, 3]);
    const dy = tf.randomNormal([2, 4, 4, 3]);
    const filter = tf.randomNormal([3, 3, 3, 1]);
    const info = (t: tf.Tensor): tf.TensorInfo => ({ dataId: t.dataId, shape: t.shape, dtype: t.dtype });
    const before = tf.memory().numTensors;
    const run = (name: string, inputs: Record<string, tf.TensorInfo>, attrs: object) =>
      tf.engine().runKernel(name, inputs as tf.NamedTensorMap, attrs as tf.NamedAttrMap) as tf.Tensor;
    const outs = [
      run(
        tf.Conv2DBackpropFilter,
        { x: info(x), dy: info(dy) },
        { strides: 2, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 3, 3] },
      ),
      run(
        tf.DepthwiseConv2dNativeBackpropFilter,
        { x: info(x), dy: info(dy) },
        { strides: 2, pad: 'same', dilations: 1, filterShape: [3, 3, 3, 1] },
      ),
      run(
        tf.DepthwiseConv2dNativeBackpropInput,
        { dy: info(dy), filter: info(filter) },
        { strides: 2, pad: 'same', dilations: 1, inputShape: [2, 7, 7, 3] },
      ),
    ];
    assert.deepEqual(
      outs.map((t) => t.shape),
      [
        [3, 3, 3, 3],
        [3, 3, 3, 1],
        [2, 7, 7, 3],
      ],
    );
    assert.equal(tf.memory().numTensors, before + outs.length);
    tf.dispose(outs);
    // Inputs must still be intact (refcounts balanced).
    assert.ok(Number.isFinite(x.sum().dataSync()[0]));
    assert.ok(Number.isFinite(dy.sum().dataSync()[0]));
    tf.dispose([x, dy, filter]);
  });

  test('depthwise gradients reject dilation > 1 with a clear error', async () => {
    await tf.setBackend('wasm');
    const x = tf.ones([1, 5, 5, 1]);
    const dy = tf.ones([1, 5, 5, 1]);
    assert.throws(
      () =>
        tf.engine().runKernel(tf.DepthwiseConv2dNativeBackpropFilter, { x, dy }, {
          strides: 1,
          pad: 'same',
          dilations: 2,
          filterShape: [3, 3, 1, 1],
        } as unknown as tf.NamedAttrMap),
      /dilations other than 1/,
    );
    tf.dispose([x, dy]);
  });

  test('a tf.layers model with conv2d + depthwiseConv2d trains one step on wasm', async () => {
    await tf.setBackend('wasm');
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({
          inputShape: [12, 12, 3],
          filters: 4,
          kernelSize: 3,
          strides: 2,
          padding: 'same',
          activation: 'relu',
        }),
        tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'valid', activation: 'relu' }),
        tf.layers.globalAveragePooling2d({}),
        tf.layers.dense({ units: 3, activation: 'softmax' }),
      ],
    });
    model.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy' });
    const xs = tf.randomNormal([4, 12, 12, 3]);
    const ys = tf.oneHot(tf.tensor1d([0, 1, 2, 1], 'int32'), 3);
    const kernelBefore = model.layers[1].getWeights()[0].dataSync().slice() as Float32Array;
    const loss = await model.trainOnBatch(xs, ys);
    assert.ok(Number.isFinite(loss as number), `loss ${String(loss)}`);
    const kernelAfter = model.layers[1].getWeights()[0].dataSync() as Float32Array;
    assert.ok(relErr(kernelAfter, kernelBefore) > 0, 'depthwise kernel should have been updated');
    tf.dispose([xs, ys]);
    model.dispose();
  });

  test('report worst relative errors', () => {
    console.log(
      `worst rel err: conv2d ${worst.conv2d.toExponential(2)}, depthwise ${worst.depthwise.toExponential(2)}`,
    );
  });
});
