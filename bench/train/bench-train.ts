/**
 * `npm run bench:train` — training throughput of every zoo student on the chosen tfjs backend,
 * beside a PyTorch CPU reference of the same architecture measured in the same run.
 * Same batch size, same optimiser (Adam), same soft-target cross-entropy, one thread each.
 *
 *   npm run bench:train -- [--steps 30] [--batch 64] [--backend wasm] [--students lenet5-half,mlp] [--json]
 */
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend, describeBackend, type BackendKey } from '../../src-main/backends/select-backend.ts';
import { listStudents } from '../../src-main/students/index.ts';
import { describeStudent } from '../../src-main/students/describe.ts';
import { softCrossEntropy } from '../../src-main/methods/losses.ts';
import { Rng } from '../../src-main/util/rng.ts';
import { table } from '../../src-main/cli/format.ts';
import { createAdam } from '../../src-main/training/optimizer.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '5' },
    batch: { type: 'string', default: '64' },
    backend: { type: 'string' },
    students: { type: 'string' },
    python: { type: 'string', default: '/usr/bin/python3' },
    json: { type: 'boolean', default: false },
  },
});
const steps = Number(values.steps);
const warmup = Number(values.warmup);
const batch = Number(values.batch);

const choice = await initBackend({ force: values.backend as BackendKey | undefined });
const log = (s: string) => process.stderr.write(s + '\n');
log(describeBackend(choice));

const students = listStudents().filter((s) => !values.students || values.students.split(',').includes(s.key));
const rng = new Rng(1);
const xData = Float32Array.from({ length: batch * 28 * 28 }, () => rng.next());
const yData = new Float32Array(batch * 10);
for (let i = 0; i < batch; i++) yData[i * 10 + rng.int(10)] = 1;

interface Row { student: string; params: number; ours: number; torch: number | null; ratio: number | null; peakMB: number }
const rows: Row[] = [];
for (const spec of students) {
  const model = spec.build({ inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
  const { params } = describeStudent(model);
  const opt = createAdam(1e-3);
  const x = tf.tensor4d(xData, [batch, 28, 28, 1]);
  const y = tf.tensor2d(yData, [batch, 10]);
  const step = () => opt.minimize(() => softCrossEntropy(model.apply(x, { training: true }) as tf.Tensor2D, y), true) as tf.Scalar;
  let peak = 0;
  for (let i = 0; i < warmup; i++) {
    const l = step();
    await l.data();
    l.dispose();
  }
  const t0 = performance.now();
  let last: tf.Scalar | undefined;
  for (let i = 0; i < steps; i++) {
    last?.dispose();
    last = step();
    peak = Math.max(peak, process.memoryUsage().rss);
  }
  await last?.data();
  last?.dispose();
  const ours = (steps * batch) / ((performance.now() - t0) / 1000);
  tf.dispose([x, y]);
  opt.dispose();
  model.dispose();
  const torch = torchReference(spec.key);
  rows.push({ student: spec.key, params, ours, torch, ratio: torch ? ours / torch : null, peakMB: peak / 2 ** 20 });
  log(`${spec.key}: ${ours.toFixed(0)} samples/s on ${choice.key}${torch ? `, PyTorch ${torch.toFixed(0)}` : ''}`);
}

function torchReference(arch: string): number | null {
  const script = path.join(here, 'torch_reference.py');
  if (!existsSync(values.python!)) return null;
  const r = spawnSync(values.python!, [script, '--arch', arch, '--batch', String(batch), '--steps', String(steps), '--warmup', String(warmup), '--threads', '1'], { encoding: 'utf8' });
  if (r.status !== 0) {
    log(`PyTorch reference for ${arch} failed: ${(r.stderr || '').trim().split('\n').pop()}`);
    return null;
  }
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return (JSON.parse(line) as { samplesPerSec: number }).samplesPerSec;
}

const fmt = (x: number | null, d = 0) => (x === null ? 'n/a' : x.toFixed(d));
process.stdout.write(
  `\ntraining throughput, batch ${batch}, ${steps} timed steps after ${warmup} warm-up, 1 thread\n` +
    table([
      ['student', 'params', `${choice.key} samples/s`, 'PyTorch CPU samples/s', 'ratio ours/PyTorch', 'peak RSS MB'],
      ...rows.map((r) => [r.student, String(r.params), fmt(r.ours), fmt(r.torch), fmt(r.ratio, 3), fmt(r.peakMB)]),
    ]) +
    '\n',
);
if (values.json) process.stdout.write(JSON.stringify({ backend: choice.key, batch, steps, rows }) + '\n');
