/**
 * Milliseconds per training step on one thread (the step trainStudent runs: forward, soft-target
 * cross-entropy, backward, Adam) for each student and batch size, as the median of timed blocks after
 * a long warm-up. On a shared, noisy machine it is the figure to compare two builds with: run it from
 * each tree in turn, several rounds, rather than comparing one bench:train run with another.
 *
 *   node --import tsx scripts/step-time.ts [--students lenet5-half,mobilenet-tiny] [--batches 64,256]
 *     [--blocks 9] [--steps 15] [--json]
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src-main/backends/select-backend.ts';
import { getStudent } from '../src-main/students/index.ts';
import { softCrossEntropy } from '../src-main/methods/losses.ts';
import { createAdam } from '../src-main/training/optimizer.ts';
import { Rng } from '../src-main/util/rng.ts';

const { values } = parseArgs({
  options: {
    students: { type: 'string', default: 'lenet5-half,mobilenet-tiny' },
    batches: { type: 'string', default: '64,256' },
    blocks: { type: 'string', default: '9' },
    steps: { type: 'string', default: '15' },
    json: { type: 'boolean', default: false },
  },
});
const backend = await initBackend({ force: 'wasm' });
const blocks = Number(values.blocks);
const steps = Number(values.steps);
const rows: { student: string; batch: number; msPerStep: number; minMsPerStep: number; samplesPerSecond: number }[] =
  [];
const rng = new Rng(1);
for (const key of values.students.split(',')) {
  const model = getStudent(key).build({ inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
  const opt = createAdam(1e-3);
  for (const batch of values.batches.split(',').map(Number)) {
    const x = tf.tensor4d(
      Float32Array.from({ length: batch * 784 }, () => rng.next()),
      [batch, 28, 28, 1],
    );
    const labels = new Float32Array(batch * 10);
    for (let i = 0; i < batch; i++) labels[i * 10 + rng.int(10)] = 1;
    const y = tf.tensor2d(labels, [batch, 10]);
    const step = () =>
      opt.minimize(() => softCrossEntropy(model.apply(x, { training: true }) as tf.Tensor2D, y), true)!.dispose();
    for (let i = 0; i < 30; i++) step();
    const times: number[] = [];
    for (let b = 0; b < blocks; b++) {
      const t0 = performance.now();
      for (let i = 0; i < steps; i++) step();
      times.push((performance.now() - t0) / steps);
    }
    times.sort((p, q) => p - q);
    const ms = times[Math.floor(times.length / 2)];
    rows.push({ student: key, batch, msPerStep: ms, minMsPerStep: times[0], samplesPerSecond: (batch * 1000) / ms });
    process.stdout.write(
      `${key.padEnd(16)} batch ${String(batch).padStart(4)}  ${ms.toFixed(2).padStart(7)} ms/step (min ${times[0].toFixed(2)})  ${((batch * 1000) / ms).toFixed(0).padStart(6)} samples/s\n`,
    );
    tf.dispose([x, y]);
  }
  opt.dispose();
  model.dispose();
}
if (values.json) process.stdout.write(JSON.stringify({ backend: backend.key, simd: backend.simd, rows }) + '\n');
