// The faster training path on wasm (wasm-fast-kernels, training-speedups, students/fast-layers)
// must compute what tfjs computes. References: the pure-JS cpu backend with tfjs's own kernels,
// tfjs's own layers and optimizer, or the same function written with elementary ops.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src-main/backends/select-backend.ts';
import { FusedAdamOptimizer } from '../../src-main/backends/training-speedups.ts';
import {
  FastBatchNormalization,
  FastConv2D,
  FastDense,
  FastReLU,
  batchNormalization,
  conv2d,
  dense,
  reLU,
} from '../../src-main/students/fast-layers.ts';
import { Rng } from '../../src-main/util/rng.ts';

function randomArray(n: number, rng: Rng, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal() * scale;
  return a;
}

function maxRelErr(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  assert.equal(a.length, ref.length, 'lengths differ');
  let diff = 0;
  let scale = 1e-6;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return diff / scale;
}

/** Runs f on both backends with the same inputs and returns the flattened outputs. */
async function onBoth(f: () => tf.Tensor | tf.Tensor[]): Promise<{ wasm: Float32Array[]; cpu: Float32Array[] }> {
  const out: Record<string, Float32Array[]> = {};
  for (const b of ['cpu', 'wasm']) {
    await tf.setBackend(b);
    const r = tf.tidy(f);
    const list = Array.isArray(r) ? r : [r];
    out[b] = list.map((t) => Float32Array.from(t.dataSync() as Float32Array));
    tf.dispose(list);
  }
  return { wasm: out.wasm, cpu: out.cpu };
}

before(async () => {
  await initBackend({ force: 'wasm' });
});

describe('replaced wasm kernels match the cpu backend', () => {
  test('BatchMatMul with every transpose combination, batched', async () => {
    const rng = new Rng(1);
    const a = randomArray(3 * 5 * 7, rng);
    const b = randomArray(3 * 7 * 4, rng);
    for (const [ta, tb] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      const { wasm, cpu } = await onBoth(() => {
        const A = tf.tensor3d(a, ta ? [3, 7, 5] : [3, 5, 7]);
        const B = tf.tensor3d(b, tb ? [3, 4, 7] : [3, 7, 4]);
        return tf.matMul(A, B, ta, tb);
      });
      assert.ok(maxRelErr(wasm[0], cpu[0]) < 1e-5, `transposeA=${ta} transposeB=${tb}`);
    }
  });

  test('Sum and Mean over the leading axes (the matrix-product path) and over others', async () => {
    const rng = new Rng(2);
    const x = randomArray(8 * 9 * 10 * 6, rng);
    for (const axes of [[0, 1, 2], [2, 0, 1], [1, 2], [3], [0]]) {
      for (const keepDims of [false, true]) {
        const { wasm, cpu } = await onBoth(() => {
          const t = tf.tensor4d(x, [8, 9, 10, 6]);
          return [tf.sum(t, axes, keepDims), tf.mean(t, axes, keepDims)];
        });
        for (let i = 0; i < 2; i++)
          assert.ok(maxRelErr(wasm[i], cpu[i]) < 1e-5, `axes ${axes} keepDims ${keepDims} ${i ? 'mean' : 'sum'}`);
      }
    }
    await tf.setBackend('wasm');
    const shape = tf.tidy(() => tf.sum(tf.ones([16, 4, 4, 3]), [0, 1, 2], true).shape);
    assert.deepEqual(shape, [1, 1, 1, 3]);
  });

  test('MaxPoolGrad routes each gradient to the first maximum, with ties and padding', async () => {
    const rng = new Rng(3);
    // Values on a coarse grid so that windows often hold ties.
    const x = Float32Array.from(randomArray(2 * 9 * 8 * 3, rng), (v) => Math.round(v * 2) / 2);
    for (const [size, stride, pad] of [
      [2, 2, 'valid'],
      [3, 2, 'same'],
      [3, 1, 'same'],
      [2, 1, 'valid'],
    ] as const) {
      const { wasm, cpu } = await onBoth(() => {
        const t = tf.tensor4d(x, [2, 9, 8, 3]);
        const g = tf.grad((a: tf.Tensor) => {
          const y = tf.maxPool(a as tf.Tensor4D, size, stride, pad);
          return tf.sum(tf.mul(y, tf.range(0, y.size).reshape(y.shape)));
        });
        return g(t);
      });
      assert.deepEqual(Array.from(wasm[0]), Array.from(cpu[0]), `pool ${size}/${stride} ${pad}`);
    }
  });

  test('ReLU, ReLU6 and clip gradients, including the boundary values', async () => {
    const x = Float32Array.from([-2, -0, 0, 1e-7, 0.5, 3, 5.999, 6, 6.0001, 9, -1, 2]);
    const dy = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const { wasm, cpu } = await onBoth(() => {
      const t = tf.tensor1d(x);
      const w = tf.tensor1d(dy);
      const via = (f: (a: tf.Tensor) => tf.Tensor) => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(f(a), w)))(t);
      return [via(tf.relu), via(tf.relu6), via((a) => tf.clipByValue(a, 0, 6)), via((a) => tf.clipByValue(a, -1, 2))];
    });
    // The cpu backend runs tfjs's own gradient formulas (the overrides only change wasm).
    for (let i = 0; i < 4; i++) assert.deepEqual(Array.from(wasm[i]), Array.from(cpu[i]), `function ${i}`);
    assert.deepEqual(Array.from(wasm[1]), [0, 0, 0, 4, 5, 6, 7, 8, 0, 0, 0, 12]);
  });
});

describe('gradient overrides', () => {
  test('FusedBatchNorm gradient equals the gradient of the same formula in elementary ops', async () => {
    const rng = new Rng(4);
    const [N, H, W, C] = [4, 5, 3, 6];
    const xv = randomArray(N * H * W * C, rng);
    const mv = randomArray(C, rng);
    const vv = Float32Array.from(randomArray(C, rng), (v) => Math.abs(v) + 0.5);
    const sv = randomArray(C, rng);
    const ov = randomArray(C, rng);
    const rv = randomArray(N * H * W * C, rng);
    for (const backend of ['wasm', 'cpu']) {
      await tf.setBackend(backend);
      const [got, ref] = tf.tidy(() => {
        const inputs = [
          tf.tensor4d(xv, [N, H, W, C]),
          tf.tensor1d(mv),
          tf.tensor1d(vv),
          tf.tensor1d(sv),
          tf.tensor1d(ov),
        ];
        const r = tf.tensor4d(rv, [N, H, W, C]);
        const fused = (x: tf.Tensor, m: tf.Tensor, v: tf.Tensor, s: tf.Tensor, o: tf.Tensor) =>
          tf.sum(
            tf.mul(
              tf.batchNorm(
                x as tf.Tensor4D,
                m as tf.Tensor1D,
                v as tf.Tensor1D,
                o as tf.Tensor1D,
                s as tf.Tensor1D,
                1e-3,
              ),
              r,
            ),
          );
        const plain = (x: tf.Tensor, m: tf.Tensor, v: tf.Tensor, s: tf.Tensor, o: tf.Tensor) =>
          tf.sum(tf.mul(tf.add(tf.mul(tf.mul(tf.sub(x, m), tf.rsqrt(tf.add(v, 1e-3))), s), o), r));
        return [tf.grads(fused)(inputs), tf.grads(plain)(inputs)];
      });
      const names = ['x', 'mean', 'variance', 'scale', 'offset'];
      for (let i = 0; i < 5; i++) {
        const e = maxRelErr(got[i].dataSync(), ref[i].dataSync());
        assert.ok(e < 1e-5, `${backend} d/d${names[i]} rel err ${e}`);
      }
      tf.dispose([...got, ...ref]);
    }
  });
});

describe('fused Adam', () => {
  test('gives the same weights as tfjs Adam, step for step, and the same saved state, for small and large variables', async () => {
    await tf.setBackend('wasm');
    const rng = new Rng(5);
    // 20,000 elements takes the op-by-op path for large variables, 7 the fused kernel.
    const w0 = randomArray(20000, rng);
    const b0 = randomArray(7, rng);
    const grads = Array.from({ length: 6 }, () => [randomArray(20000, rng), randomArray(7, rng, 1e-3)]);
    const run = (opt: tf.Optimizer) => {
      const w = tf.variable(tf.tensor1d(w0), true, `w${opt.constructor.name}`);
      const b = tf.variable(tf.tensor1d(b0), true, `b${opt.constructor.name}`);
      for (const [gw, gb] of grads) {
        tf.tidy(() => opt.applyGradients({ [w.name]: tf.tensor1d(gw), [b.name]: tf.tensor1d(gb) }));
      }
      const out = [w.dataSync().slice(), b.dataSync().slice()];
      tf.dispose([w, b]);
      return out;
    };
    const ref = tf.train.adam(0.01);
    const fused = new FusedAdamOptimizer(0.01, 0.9, 0.999);
    const [rw, rb] = run(ref);
    const [fw, fb] = run(fused);
    assert.deepEqual(Array.from(fw), Array.from(rw));
    assert.deepEqual(Array.from(fb), Array.from(rb));
    const [rs, fs] = [await ref.getWeights(), await fused.getWeights()];
    assert.deepEqual(
      fs.map((s) => s.name.replace(/Fused\w+/, '')),
      rs.map((s) => s.name.replace(/Adam\w+/, '')),
    );
    for (let i = 0; i < rs.length; i++)
      assert.deepEqual(Array.from(fs[i].tensor.dataSync()), Array.from(rs[i].tensor.dataSync()), rs[i].name);
    ref.dispose();
    fused.dispose();
  });
});

describe('fast layers', () => {
  /** Output, input gradient and weight gradients of layer(x) in training mode, weighted by r. */
  function trainingPass(layer: tf.layers.Layer, x: tf.Tensor4D, r: tf.Tensor): tf.Tensor[] {
    const weights = layer.trainableWeights.map((w) => w.read() as tf.Variable);
    const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(layer.apply(a, { training: true }) as tf.Tensor, r)))(x);
    if (weights.length === 0) return [layer.apply(x, { training: true }) as tf.Tensor, dx];
    const { value, grads } = tf.variableGrads(
      () => tf.sum(tf.mul(layer.apply(x, { training: true }) as tf.Tensor, r)) as tf.Scalar,
      weights,
    );
    return [value, dx, ...weights.map((w) => grads[w.name])];
  }

  async function compare(
    make: (fast: boolean) => tf.layers.Layer,
    shape: [number, number, number, number],
    tol: number,
  ) {
    await tf.setBackend('wasm');
    const rng = new Rng(6);
    const xv = randomArray(
      shape.reduce((p, q) => p * q, 1),
      rng,
      2,
    );
    const base = make(false);
    const fast = make(true);
    const x = tf.tensor4d(xv, shape);
    const yShape = base.apply(x) as tf.Tensor;
    fast.apply(x);
    fast.setWeights(base.getWeights());
    const r = tf.tensor(randomArray(yShape.size, rng), yShape.shape);
    const want = trainingPass(base, x, r);
    const got = trainingPass(fast, x, r);
    for (let i = 0; i < want.length; i++) {
      const e = maxRelErr(got[i].dataSync(), want[i].dataSync());
      assert.ok(e < tol, `${base.getClassName()} output ${i} rel err ${e}`);
    }
    // Non-trainable state (batch-norm moving statistics) moves the same way.
    const [bw, fw] = [base.getWeights(), fast.getWeights()];
    for (let i = 0; i < bw.length; i++) assert.ok(maxRelErr(fw[i].dataSync(), bw[i].dataSync()) < tol, `weight ${i}`);
    tf.dispose([x, r, yShape, ...want, ...got]);
  }

  test('BatchNormalization: output, gradients and moving statistics', () =>
    compare(
      (fast) => (fast ? batchNormalization : tf.layers.batchNormalization)({ momentum: 0.9 }),
      [6, 5, 4, 7],
      1e-4,
    ));
  test('BatchNormalization on wasm is one kernel forward and one backward, and matches the composed layer on offset inputs', async () => {
    await tf.setBackend('wasm');
    const shape: [number, number, number, number] = [8, 7, 7, 16];
    const rng = new Rng(11);
    // A large offset against a small spread: the variance must come from centred values.
    const x = tf.add(
      tf.tensor4d(
        randomArray(
          shape.reduce((p, q) => p * q, 1),
          rng,
          0.5,
        ),
        shape,
      ),
      3,
    ) as tf.Tensor4D;
    const base = tf.layers.batchNormalization({
      momentum: 0.9,
      gammaInitializer: 'randomNormal',
      betaInitializer: 'randomNormal',
    });
    const fast = batchNormalization({ momentum: 0.9 });
    base.apply(x);
    fast.apply(x);
    fast.setWeights(base.getWeights());
    const r = tf.tensor4d(randomArray(x.size, rng), shape);
    let got: tf.Tensor[] = [];
    const info = await tf.profile(() => {
      got = trainingPass(fast, x, r);
    });
    const names = info.kernels.map((k) => k.name);
    assert.equal(names.filter((n) => n === 'DistillBatchNormTrain').length, 2, names.join(','));
    assert.equal(names.filter((n) => n === 'DistillBatchNormTrainGrad').length, 2, names.join(','));
    const want = trainingPass(base, x, r);
    for (let i = 0; i < want.length; i++) {
      const e = maxRelErr(got[i].dataSync(), want[i].dataSync());
      assert.ok(e < 1e-4, `output ${i} rel err ${e}`);
    }
    const [bw, fw] = [base.getWeights(), fast.getWeights()];
    for (let i = 0; i < bw.length; i++) assert.ok(maxRelErr(fw[i].dataSync(), bw[i].dataSync()) < 1e-5, `weight ${i}`);
    tf.dispose([x, r, ...want, ...got]);
  });

  test('ReLU and ReLU6 gradients on wasm are one masking kernel each, equal to the elementary-op masks at the boundaries', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor1d([-1, 0, 1e-7, 3, 6, 6.000001, 7, -0, 2, 5, 0.5]);
    const dy = tf.tensor1d([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    for (const [f, lo, hi] of [
      [tf.relu, 0, Infinity],
      [tf.relu6, 0, 6],
    ] as const) {
      let dx: tf.Tensor | undefined;
      const info = await tf.profile(() => {
        dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(f(a), dy)))(x);
      });
      const names = info.kernels.map((k) => k.name);
      assert.ok(names.includes('DistillMaskGrad') && !names.includes('Step'), names.join(','));
      const want = Array.from(x.dataSync()).map((v, i) => (v > lo && v <= hi ? dy.dataSync()[i] : 0));
      assert.deepEqual(Array.from(dx!.dataSync()), want);
      dx!.dispose();
    }
    tf.dispose([x, dy]);
  });

  test('the batch-norm kernels reject inputs they cannot handle', async () => {
    await tf.setBackend('wasm');
    const x = tf.zeros([2, 3, 3, 4]);
    assert.throws(
      () =>
        tf
          .engine()
          .runKernel('DistillBatchNormTrain', { x, gamma: tf.ones([3]), beta: tf.zeros([3]) }, { epsilon: 1e-3 }),
      /gamma and beta must have shape \[4\]/,
    );
    assert.throws(
      () =>
        tf
          .engine()
          .runKernel(
            'DistillBatchNormTrain',
            { x: tf.zeros([2, 4], 'int32'), gamma: tf.ones([4]), beta: tf.zeros([4]) },
            { epsilon: 1e-3 },
          ),
      /must be float32/,
    );
    x.dispose();
  });

  test('ReLU with maxValue 6', () =>
    compare((fast) => (fast ? reLU : tf.layers.reLU)({ maxValue: 6 }), [3, 4, 4, 5], 1e-6));
  test('Conv2D with a ReLU', () =>
    compare(
      (fast) =>
        (fast ? conv2d : tf.layers.conv2d)({
          filters: 4,
          kernelSize: 3,
          padding: 'same',
          activation: 'relu',
          kernelInitializer: 'glorotNormal',
          biasInitializer: 'randomNormal',
        }),
      [3, 6, 6, 2],
      1e-5,
    ));

  test('Conv2D with a ReLU, valid padding and stride 2', () =>
    compare(
      (fast) =>
        (fast ? conv2d : tf.layers.conv2d)({
          filters: 3,
          kernelSize: 3,
          strides: 2,
          padding: 'valid',
          activation: 'relu',
          kernelInitializer: 'glorotNormal',
          biasInitializer: 'randomNormal',
        }),
      [2, 7, 7, 3],
      1e-5,
    ));

  test('Conv2D, linear and without a bias (MobileNet-tiny and ResNet-8 convolutions), stride 2', () =>
    compare(
      (fast) =>
        (fast ? conv2d : tf.layers.conv2d)({
          filters: 4,
          kernelSize: 3,
          strides: 2,
          padding: 'same',
          useBias: false,
          kernelInitializer: 'glorotNormal',
        }),
      [2, 7, 7, 3],
      1e-5,
    ));

  test('Conv2D, linear with a bias, 1x1', () =>
    compare(
      (fast) =>
        (fast ? conv2d : tf.layers.conv2d)({
          filters: 5,
          kernelSize: 1,
          padding: 'valid',
          kernelInitializer: 'glorotNormal',
          biasInitializer: 'randomNormal',
        }),
      [2, 4, 4, 3],
      1e-5,
    ));

  /** compare() for layers that take 2-D input. */
  function compare2d(make: (fast: boolean) => tf.layers.Layer, shape: [number, number], tol: number) {
    const rng = new Rng(8);
    const x = tf.tensor2d(randomArray(shape[0] * shape[1], rng, 2), shape);
    const base = make(false);
    const fast = make(true);
    const yShape = base.apply(x) as tf.Tensor;
    fast.apply(x);
    fast.setWeights(base.getWeights());
    const r = tf.tensor(randomArray(yShape.size, rng), yShape.shape);
    const run = (layer: tf.layers.Layer) => {
      const weights = layer.trainableWeights.map((w) => w.read() as tf.Variable);
      const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(layer.apply(a, { training: true }) as tf.Tensor, r)))(x);
      const { value, grads } = tf.variableGrads(
        () => tf.sum(tf.mul(layer.apply(x, { training: true }) as tf.Tensor, r)) as tf.Scalar,
        weights,
      );
      return [layer.apply(x) as tf.Tensor, value, dx, ...weights.map((w) => grads[w.name])];
    };
    const want = run(base);
    const got = run(fast);
    for (let i = 0; i < want.length; i++) {
      const e = maxRelErr(got[i].dataSync(), want[i].dataSync());
      assert.ok(e < tol, `Dense output ${i} rel err ${e}`);
    }
    tf.dispose([x, r, yShape, ...want, ...got]);
  }

  for (const activation of ['relu', 'linear'] as const) {
    test(`Dense, ${activation}: output, input gradient and weight gradients`, async () => {
      await tf.setBackend('wasm');
      compare2d(
        (fast) =>
          (fast ? dense : tf.layers.dense)({
            units: 7,
            activation,
            kernelInitializer: 'glorotNormal',
            biasInitializer: 'randomNormal',
          }),
        [5, 11],
        1e-5,
      );
    });
  }

  test("a first layer's input gradient is never computed, and the weights' gradients still are", async () => {
    await tf.setBackend('wasm');
    const layer = conv2d({ filters: 3, kernelSize: 5, padding: 'same', activation: 'relu' });
    const x = tf.randomUniform([4, 12, 12, 1], 0, 1, 'float32', 3) as tf.Tensor4D;
    layer.apply(x);
    const weights = layer.trainableWeights.map((w) => w.read() as tf.Variable);
    let grads: tf.NamedTensorMap = {};
    const info = await tf.profile(() => {
      grads = tf.variableGrads(
        () => tf.sum(layer.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
        weights,
      ).grads;
    });
    const names = info.kernels.map((k) => k.name);
    assert.ok(names.includes('Conv2DBackpropFilter'), names.join(','));
    assert.ok(!names.includes('Conv2DBackpropInput'), `input gradient computed: ${names.join(',')}`);
    assert.deepEqual(
      weights.map((w) => grads[w.name].shape),
      [[5, 5, 1, 3], [3]],
    );
    tf.dispose([x, ...Object.values(grads)]);
  });

  test("nor a linear first layer's without a bias (MobileNet-tiny's stem), where tfjs's fused conv computes it", async () => {
    await tf.setBackend('wasm');
    const x = tf.randomUniform([4, 12, 12, 1], 0, 1, 'float32', 5) as tf.Tensor4D;
    const kernels = async (layer: tf.layers.Layer): Promise<string[]> => {
      layer.apply(x);
      const weights = layer.trainableWeights.map((w) => w.read() as tf.Variable);
      const info = await tf.profile(() => {
        tf.dispose(
          tf.variableGrads(() => tf.sum(layer.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, weights).grads,
        );
      });
      return info.kernels.map((k) => k.name);
    };
    const args = { filters: 8, kernelSize: 3, strides: 2, padding: 'same' as const, useBias: false };
    // The comparison shows the test can fail: tfjs's own layer does compute it.
    assert.ok((await kernels(tf.layers.conv2d(args))).includes('Conv2DBackpropInput'));
    const fast = await kernels(conv2d(args));
    assert.ok(fast.includes('Conv2DBackpropFilter'), fast.join(','));
    assert.ok(!fast.includes('Conv2DBackpropInput'), `input gradient computed: ${fast.join(',')}`);
    x.dispose();
  });

  test("a first Dense layer's input gradient is never computed either", async () => {
    await tf.setBackend('wasm');
    const x = tf.randomUniform([4, 30], 0, 1, 'float32', 4) as tf.Tensor2D;
    const matMuls = async (layer: tf.layers.Layer): Promise<number> => {
      layer.apply(x);
      const weights = layer.trainableWeights.map((w) => w.read() as tf.Variable);
      const info = await tf.profile(() => {
        tf.dispose(
          tf.variableGrads(() => tf.sum(layer.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, weights).grads,
        );
      });
      return info.kernels.filter((k) => k.name === 'BatchMatMul').length;
    };
    const base = await matMuls(tf.layers.dense({ units: 5, activation: 'relu' }));
    const fast = await matMuls(dense({ units: 5, activation: 'relu' }));
    // tfjs: the forward product and both gradients; here only the kernel's gradient.
    assert.ok(fast < base, `BatchMatMul kernels: fast ${fast}, tfjs ${base}`);
    x.dispose();
  });

  test('saved models load back as the fast classes under the original names', async () => {
    await tf.setBackend('wasm');
    const m = tf.sequential();
    m.add(conv2d({ inputShape: [6, 6, 1], filters: 2, kernelSize: 3, activation: 'relu' }));
    m.add(batchNormalization({}));
    m.add(reLU({ maxValue: 6 }));
    m.add(tf.layers.flatten());
    m.add(dense({ units: 3, activation: 'relu' }));
    let artifacts: tf.io.ModelArtifacts | undefined;
    await m.save(
      tf.io.withSaveHandler(async (a) => {
        artifacts = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const json = JSON.stringify(artifacts!.modelTopology);
    for (const name of ['"Conv2D"', '"BatchNormalization"', '"ReLU"', '"Dense"']) assert.ok(json.includes(name), name);
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts!));
    assert.ok(loaded.layers[0] instanceof FastConv2D);
    assert.ok(loaded.layers[1] instanceof FastBatchNormalization);
    assert.ok(loaded.layers[2] instanceof FastReLU);
    assert.ok(loaded.layers[4] instanceof FastDense);
  });
});
