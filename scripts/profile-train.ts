/**
 * Where a training step's time goes, kernel by kernel, on the chosen backend.
 *
 *   node --import tsx scripts/profile-train.ts [student] [--batch 64] [--backend wasm]
 *
 * Kernel times nest (a composed kernel includes the kernels it runs), so the total can exceed
 * the step time; the step time itself is measured apart, without the profiler.
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendKey } from '../src-main/backends/select-backend.ts';
import { getStudent } from '../src-main/students/index.ts';
import { softCrossEntropy } from '../src-main/methods/losses.ts';
import { createAdam } from '../src-main/training/optimizer.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    batch: { type: 'string', default: '64' },
    backend: { type: 'string', default: 'wasm' },
    top: { type: 'string', default: '25' },
  },
});
await initBackend({ force: values.backend as BackendKey });
const key = positionals[0] ?? 'lenet5-half';
const batch = Number(values.batch);
const model = getStudent(key).build({ inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
const opt = createAdam(1e-3);
const x = tf.randomUniform([batch, 28, 28, 1], 0, 1, 'float32', 1) as tf.Tensor4D;
const y = tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32', 2) as tf.Tensor1D, 10).toFloat() as tf.Tensor2D;
const step = () =>
  opt.minimize(() => softCrossEntropy(model.apply(x, { training: true }) as tf.Tensor2D, y), true) as tf.Scalar;
// Enough warm-up steps for V8 to optimise tfjs's dispatch; with a handful the figures ran 1.5-2x slow.
for (let i = 0; i < 40; i++) {
  const l = step();
  await l.data();
  l.dispose();
}
const reps = 20;
const t0 = performance.now();
for (let i = 0; i < reps; i++) step().dispose();
await tf.ready();
const msPerStep = (performance.now() - t0) / reps;
const profiled = 10;
const info = await tf.profile(async () => {
  for (let i = 0; i < profiled; i++) step().dispose();
});
const agg = new Map<string, { n: number; ms: number }>();
for (const k of info.kernels) {
  const ms = (await k.kernelTimeMs) as number;
  const a = agg.get(k.name) ?? { n: 0, ms: 0 };
  a.n++;
  a.ms += ms;
  agg.set(k.name, a);
}
console.log(
  `${key} on ${tf.getBackend()}, batch ${batch}: ${msPerStep.toFixed(2)} ms/step (${((batch * 1000) / msPerStep).toFixed(0)} samples/s), ${info.kernels.length / profiled} kernels/step`,
);
console.log('kernel'.padEnd(40), 'calls/step'.padStart(10), 'ms/step'.padStart(9));
for (const [k, v] of [...agg].sort((a, b) => b[1].ms - a[1].ms).slice(0, Number(values.top))) {
  console.log(k.padEnd(40), (v.n / profiled).toFixed(0).padStart(10), (v.ms / profiled).toFixed(3).padStart(9));
}
