import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { describeStudent, getStudent, listStudents, registerStudent } from '../../src-main/students/index.ts';

await tf.setBackend('cpu');

const EXPECTED_KEYS = ['lenet5', 'lenet5-half', 'mlp', 'mobilenet-tiny', 'resnet8'];
const SHAPES: [number, number, number][] = [
  [28, 28, 1],
  [32, 32, 3],
];

function weightsOf(model: tf.LayersModel): Float32Array[] {
  return model.getWeights().map((w) => w.dataSync() as Float32Array);
}

test('the zoo registers every architecture', () => {
  assert.deepEqual(
    listStudents().map((s) => s.key),
    EXPECTED_KEYS,
  );
  for (const s of listStudents()) {
    assert.ok(s.title.length > 0 && s.description.length > 0, `${s.key} has a title and description`);
  }
});

for (const inputShape of SHAPES) {
  for (const key of EXPECTED_KEYS) {
    test(`${key} builds for ${inputShape.join('x')} with 10 classes and outputs logits`, () => {
      const model = getStudent(key).build({ inputShape, numClasses: 10, seed: 7 });
      try {
        assert.deepEqual(model.inputs[0].shape, [null, ...inputShape]);
        const y = tf.tidy(() => model.predict(tf.randomNormal([3, ...inputShape], 0, 1, 'float32', 1)) as tf.Tensor);
        assert.deepEqual(y.shape, [3, 10]);
        const values = Array.from(y.dataSync());
        y.dispose();
        // Logits, not probabilities: rows need not sum to one, and must be finite.
        assert.ok(values.every(Number.isFinite));
        const rowSum = values.slice(0, 10).reduce((a, v) => a + v, 0);
        assert.ok(Math.abs(rowSum - 1) > 1e-3 || values.some((v) => v < 0), 'output is not a softmax');

        const d = describeStudent(model);
        assert.equal(d.params, model.countParams());
        assert.ok(d.params > 0 && d.flops > 0 && d.layers > 0);
        assert.ok(d.trainableParams > 0 && d.trainableParams <= d.params);
        assert.deepEqual(d.uncounted, []);
        assert.equal(
          d.perLayer.reduce((a, l) => a + l.flops, 0),
          d.flops,
        );
      } finally {
        model.dispose();
      }
    });
  }
}

test('layer names are explicit, so they are the same in every build', () => {
  for (const key of EXPECTED_KEYS) {
    const a = getStudent(key).build({ inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
    const b = getStudent(key).build({ inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
    assert.deepEqual(
      a.layers.map((l) => l.name),
      b.layers.map((l) => l.name),
      key,
    );
    assert.ok(
      a.layers.some((l) => l.name === 'logits'),
      `${key} names its last layer "logits"`,
    );
    a.dispose();
    b.dispose();
  }
});

test('lenet5-half is smaller than lenet5', () => {
  const full = getStudent('lenet5').build({ inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
  const half = getStudent('lenet5-half').build({ inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
  const df = describeStudent(full);
  const dh = describeStudent(half);
  assert.ok(dh.params < df.params);
  assert.ok(dh.flops < df.flops);
  full.dispose();
  half.dispose();
});

test('lenet5 params and FLOPs match a hand count', () => {
  const model = getStudent('lenet5').build({ inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
  const d = describeStudent(model);
  // conv1 6*(25+1), conv2 16*(150+1), fc 400*120+120, 120*84+84, 84*10+10
  assert.equal(d.params, 156 + 2416 + 48120 + 10164 + 850);
  const flops =
    2 * 28 * 28 * 6 * 25 +
    28 * 28 * 6 + // conv1 + relu
    14 * 14 * 6 * 4 + // pool1
    2 * 10 * 10 * 16 * 150 +
    10 * 10 * 16 + // conv2 + relu
    5 * 5 * 16 * 4 + // pool2
    2 * 400 * 120 +
    120 +
    2 * 120 * 84 +
    84 +
    2 * 84 * 10; // dense layers + relus
  assert.equal(d.flops, flops);
  assert.equal(d.layers, 8);
  model.dispose();
});

test('BN statistics count as parameters but not as trainable ones', () => {
  const model = getStudent('resnet8').build({ inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
  const d = describeStudent(model);
  const bnChannels = model.layers
    .filter((l) => l.getClassName() === 'BatchNormalization')
    .reduce((a, l) => a + l.getWeights()[0].shape[0], 0);
  assert.equal(d.params - d.trainableParams, 2 * bnChannels);
  assert.ok(model.layers.some((l) => l.getClassName() === 'Add'));
  model.dispose();
});

test('same seed gives identical weights, a different seed different ones', () => {
  for (const key of EXPECTED_KEYS) {
    const opts = { inputShape: [32, 32, 3] as [number, number, number], numClasses: 10 };
    const a = getStudent(key).build({ ...opts, seed: 42 });
    const b = getStudent(key).build({ ...opts, seed: 42 });
    const c = getStudent(key).build({ ...opts, seed: 43 });
    const wa = weightsOf(a);
    const wb = weightsOf(b);
    const wc = weightsOf(c);
    assert.equal(wa.length, wb.length);
    wa.forEach((w, i) => assert.deepEqual(w, wb[i], `${key} weight ${i}`));
    // Every kernel must move with the seed, not just some of them.
    const kernels = a.weights.map((w, i) => [w.originalName, i] as const).filter(([n]) => /kernel$/.test(n));
    assert.ok(kernels.length > 0);
    for (const [name, i] of kernels) assert.notDeepEqual(wa[i], wc[i], `${key} ${name} depends on the seed`);
    a.dispose();
    b.dispose();
    c.dispose();
  }
});

test('an unknown student key lists the valid keys', () => {
  assert.throws(
    () => getStudent('vgg99'),
    (err: Error) => {
      assert.match(err.message, /vgg99/);
      for (const key of EXPECTED_KEYS) assert.ok(err.message.includes(key), `message lists ${key}`);
      return true;
    },
  );
});

test('registering a different spec under a taken key fails', () => {
  const spec = getStudent('mlp');
  assert.doesNotThrow(() => registerStudent(spec));
  assert.throws(() => registerStudent({ ...spec }), /already registered/);
  assert.throws(() => registerStudent({ ...spec, key: 'Bad Key' }), /lower-case/);
});

test('inputs too small for an architecture give a clear error', () => {
  assert.throws(() => getStudent('lenet5').build({ inputShape: [8, 8, 1], numClasses: 10, seed: 1 }), /too small/);
  assert.throws(() => getStudent('mlp').build({ inputShape: [8, 8, 1], numClasses: 0, seed: 1 }), /numClasses/);
});
