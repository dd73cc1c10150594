/**
 * Golden values for the losses and helpers of fs-bbt, mekd, gpd and active-mixup, computed by hand
 * (the arithmetic is in each comment), compared with a tolerance.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { PNG } from 'pngjs';
import { cvaeLoss, gpdStudentLoss, labelSmoothedSoftCrossEntropy, mekdLoss } from '../../src-main/methods/losses.ts';
import { batchMixup, makeMixupPool, mixTargets } from '../../src-main/methods/mixup.ts';
import { leastConfident } from '../../src-main/methods/active-mixup.ts';
import { DynamicTeacher } from '../../src-main/methods/gpd-dynamic-teacher.ts';
import { renderImageGrid, classColour, saveSentGrid } from '../../src-main/methods/image-grid.ts';
import { getStudent } from '../../src-main/students/index.ts';
import { Rng } from '../../src-main/util/rng.ts';

const close = (got: number, want: number, tol = 1e-5) => assert.ok(Math.abs(got - want) < tol, `${got} vs ${want}`);
const LN3 = Math.log(3);

test('label-smoothed soft CE: q = [1, 0], ε = 0.1 → q′ = [0.95, 0.05]; p = [0.75, 0.25]', () => {
  // −(0.95·ln 0.75 + 0.05·ln 0.25) = 0.95·0.287682 + 0.05·1.386294 = 0.342613
  const l = labelSmoothedSoftCrossEntropy(tf.tensor2d([[LN3, 0]]), tf.tensor2d([[1, 0]]), 0.1);
  close(l.dataSync()[0], 0.342613);
});

test('GPD student loss: KL at T = 1 plus 3 · smoothed CE towards the detached dynamic teacher', () => {
  // KL([.5,.5] ‖ [.75,.25]) = .5·ln(.5/.75) + .5·ln(.5/.25) = 0.143841;
  // DT d = [0, 0] → [.5, .5] (smoothing keeps it); CE = −.5(ln .75 + ln .25) = 0.836988; × 3 = 2.510964.
  const s = tf.tensor2d([[LN3, 0]]);
  const d = tf.tensor2d([[0, 0]]);
  const l = gpdStudentLoss(s, tf.tensor2d([[0.5, 0.5]]), d, { temperature: 1, weight: 3, smoothing: 0.1, hard: false });
  close(l.dataSync()[0], 2.654805);
  // The dynamic teacher's probabilities are a detached target: no gradient reaches d.
  const g = tf.grad((dd: tf.Tensor) =>
    gpdStudentLoss(s, tf.tensor2d([[0.5, 0.5]]), dd as tf.Tensor2D, {
      temperature: 1,
      weight: 3,
      smoothing: 0.1,
      hard: false,
    }),
  )(d);
  assert.deepEqual(Array.from(g.dataSync()), [0, 0]);
});

test('CVAE loss: summed pixel BCE + KL(N(μ, σ²) ‖ N(0, I)), batch mean', () => {
  // Row 1: BCE(−ln .5 − ln .5) = 1.386294; μ = [1, 0], log σ² = 0: KL = −½(1 + 0 − 1 − 1) = 0.5 → 1.886294.
  // Row 2: BCE(−ln .8 − ln .8) = 0.446287; μ = 0, log σ² = [ln 2, 0]: KL = −½(1 + ln 2 − 2) = 0.153426 → 0.599713.
  const l = cvaeLoss(
    tf.tensor2d([
      [0.5, 0.5],
      [0.8, 0.2],
    ]),
    tf.tensor2d([
      [1, 0],
      [1, 0],
    ]),
    tf.tensor2d([
      [1, 0],
      [0, 0],
    ]),
    tf.tensor2d([
      [0, 0],
      [Math.log(2), 0],
    ]),
  );
  close(l.dataSync()[0], (1.886294 + 0.599713) / 2);
});

test('MEKD loss: mean |G(s) − G(t)| + β·τ²·KL at τ = 2', () => {
  // L1: |0 − .5| and |1 − .5| → mean 0.5. softmax([ln 3, 0]/2) = [0.633975, 0.366025];
  // KL([.5,.5] ‖ ·) = .5·ln(.5/.633975) + .5·ln(.5/.366025) = .5·(−0.237401) + .5·0.311905 = 0.037252; × τ² = 4 → 0.149009.
  const l = mekdLoss(
    tf.tensor2d([[0, 1]]),
    tf.tensor2d([[0.5, 0.5]]),
    tf.tensor2d([[LN3, 0]]),
    tf.tensor2d([[0.5, 0.5]]),
    2,
    1,
  );
  close(l.dataSync()[0], 0.649009);
});

test('MixUp targets and pool: λ·q₁ + (1 − λ)·q₂; extreme λ dropped; images are the same mixes', () => {
  assert.deepEqual(
    Array.from(mixTargets([1, 0, 0], [0, 0.5, 0.5], 0.3)).map((v) => +v.toFixed(6)),
    [0.3, 0.35, 0.35],
  );
  const images = new Float32Array([0, 0, 1, 1, 0.5, 0.25]);
  const pool = makeMixupPool(images, 3, 2, 200, new Rng(3));
  assert.ok(pool.count < 200 && pool.count > 150, `kept ${pool.count}`);
  for (let i = 0; i < pool.count; i++) {
    const lam = pool.lambdas[i];
    assert.ok(lam > 0.05 && lam < 0.95);
    const [a, b] = [pool.pairs[2 * i], pool.pairs[2 * i + 1]];
    assert.notEqual(a, b);
    close(pool.images[2 * i], lam * images[2 * a] + (1 - lam) * images[2 * b]);
  }
  // On-the-fly MixUp keeps every target row a distribution.
  const x = new Float32Array([0, 1, 1, 0]);
  const y = new Float32Array([1, 0, 0, 1]);
  batchMixup(1, 2, 2)(x, y, 2, new Rng(1));
  close(y[0] + y[1], 1);
  close(x[0] + x[1], 1);
});

test('active mixup picks the least confident rows first', () => {
  // max softmax: row 0 ≈ 0.993, row 1 = 0.5, row 2 ≈ 0.731.
  assert.deepEqual(Array.from(leastConfident(new Float32Array([5, 0, 0, 0, 1, 0]), 2, 2)), [1, 2]);
});

test('GPD dynamic teacher: the student is its first channels; widened net starts at the student function', () => {
  const model = getStudent('lenet5-half').build({ inputShape: [28, 28, 1], numClasses: 10, seed: 5 });
  const dt = new DynamicTeacher(model, 2, new Rng(2));
  const x = tf.randomUniform([3, 28, 28, 1], 0, 1, 'float32', 9) as tf.Tensor4D;
  const ref = model.predict(x) as tf.Tensor;
  close(tf.max(tf.abs(tf.sub(ref, dt.forwardStudent(x)))).dataSync()[0], 0, 1e-5);
  close(tf.max(tf.abs(tf.sub(ref, dt.forwardTeacher(x)))).dataSync()[0], 0, 1e-2);
  assert.deepEqual(dt.variables[0].shape, [5, 5, 1, 6]);
  // A change to the shared variables shows in the zoo model after extraction.
  dt.variables[1].assign(tf.add(dt.variables[1], 0.1));
  dt.copyIntoStudent();
  close(tf.max(tf.abs(tf.sub(model.predict(x) as tf.Tensor, dt.forwardStudent(x)))).dataSync()[0], 0, 1e-5);
  dt.dispose();
  model.dispose();
});

test('image grid: tiles plus a bar in the class colour', () => {
  const images = new Float32Array(2 * 4 * 4).fill(1);
  const png = PNG.sync.read(
    renderImageGrid({ images, count: 2, dims: { height: 4, width: 4, channels: 1 }, labels: [3, 7] }),
  );
  assert.equal(png.width, 2 * 6 + 2);
  const at = (x: number, y: number) =>
    Array.from(png.data.subarray((y * png.width + x) * 4, (y * png.width + x) * 4 + 3));
  assert.deepEqual(at(2, 2), [255, 255, 255]);
  assert.deepEqual(at(2, 2 + 4), classColour(3));
  assert.deepEqual(at(2 + 6, 2 + 4), classColour(7));
});

test('saveSentGrid writes a PNG and a sidecar with the teacher labels through the artifact hook', () => {
  const saved = new Map<string, Uint8Array | string>();
  const images = new Float32Array(3 * 4 * 4).fill(0.5);
  saveSentGrid({ saveArtifact: (name, data) => saved.set(name, data) }, 'sent-mixup', {
    images,
    count: 3,
    dims: { height: 4, width: 4, channels: 1 },
    labels: [0, 9, 4],
  });
  assert.deepEqual([...saved.keys()], ['sent-mixup.png', 'sent-mixup.json']);
  assert.deepEqual(JSON.parse(saved.get('sent-mixup.json') as string).labels, [0, 9, 4]);
  // Without the hook nothing happens (runs that do not wire it).
  saveSentGrid({}, 'x', { images, count: 3, dims: { height: 4, width: 4, channels: 1 }, labels: [0, 9, 4] });
});
