/**
 * Training throughput on one thread vs data-parallel worker threads, through trainStudent itself
 * (same epochs, callbacks and checkpoints path as a run). Random images, one-hot targets.
 *
 *   node --import tsx scripts/bench-data-parallel.ts [--students lenet5-half,mobilenet-tiny,mlp]
 *     [--workers 1,2] [--batch 64] [--count 2048] [--epochs 4] [--backend wasm]
 *
 * The first epoch of each run is a warm-up and left out. The machine may be shared, so the worker
 * counts take turns over `--trials` rounds; the figure is the median over rounds of each run's
 * median epoch, and the best round is shown beside it.
 */
import { parseArgs } from 'node:util';
import { initBackend, isBackendKey } from '../src-main/backends/select-backend.ts';
import { getStudent } from '../src-main/students/index.ts';
import { trainStudent } from '../src-main/training/trainer.ts';
import { kdKl } from '../src-main/methods/losses.ts';
import { Rng } from '../src-main/util/rng.ts';

const { values } = parseArgs({
  options: {
    students: { type: 'string', default: 'lenet5-half,mobilenet-tiny,mlp' },
    workers: { type: 'string', default: '1,2' },
    batch: { type: 'string', default: '64' },
    count: { type: 'string', default: '2048' },
    epochs: { type: 'string', default: '4' },
    trials: { type: 'string', default: '3' },
    backend: { type: 'string', default: 'wasm' },
  },
});
if (!isBackendKey(values.backend)) throw new Error(`unknown backend ${values.backend}`);
const backend = await initBackend({ force: values.backend });
const batchSize = Number(values.batch);
const count = Number(values.count);
const epochs = Number(values.epochs);
const C = 10;
const dims = { height: 28, width: 28, channels: 1 };
const rng = new Rng(1);
const images = Float32Array.from({ length: count * 784 }, () => rng.next());
const targets = new Float32Array(count * C);
for (let i = 0; i < count; i++) targets[i * C + rng.int(C)] = 1;
const loss = kdKl({ temperature: 4 });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
async function samplesPerSecond(key: string, workers: number): Promise<number> {
  const model = getStudent(key).build({ inputShape: [28, 28, 1], numClasses: C, seed: 1 });
  const rates: number[] = [];
  await trainStudent({
    model,
    images,
    targets,
    count,
    dims,
    epochs,
    batchSize,
    learningRate: 1e-3,
    augment: { shift: 0, flip: false },
    rng: new Rng(2),
    loss,
    workers,
    onEpoch: (e) => {
      if (e.epoch > 1) rates.push(e.samples / e.seconds);
    },
  });
  model.dispose();
  return median(rates);
}

const workerCounts = values.workers.split(',').map(Number);
const rows: {
  student: string;
  workers: number;
  samplesPerSecond: number;
  best: number;
  speedup: number;
  trials: number[];
}[] = [];
for (const key of values.students.split(',')) {
  const trials = new Map<number, number[]>(workerCounts.map((w) => [w, []]));
  for (let t = 0; t < Number(values.trials); t++) {
    for (const w of workerCounts) trials.get(w)!.push(await samplesPerSecond(key, w));
  }
  const base = median(trials.get(workerCounts[0])!);
  for (const w of workerCounts) {
    const xs = trials.get(w)!;
    const sps = median(xs);
    const best = Math.max(...xs);
    rows.push({
      student: key,
      workers: w,
      samplesPerSecond: Math.round(sps),
      best: Math.round(best),
      speedup: Number((sps / base).toFixed(2)),
      trials: xs.map(Math.round),
    });
    process.stdout.write(
      `${key.padEnd(16)} workers ${w}  ${sps.toFixed(0).padStart(6)} samples/s (best ${best.toFixed(0)})  ×${(sps / base).toFixed(2)}  [${xs.map((x) => x.toFixed(0)).join(' ')}]\n`,
    );
  }
}
process.stdout.write(
  JSON.stringify({ backend: backend.key, simd: backend.simd, batchSize, count, epochs, rows }) + '\n',
);
