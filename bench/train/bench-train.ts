/**
 * `npm run bench:train` — training throughput of every zoo student, per tfjs backend that loads
 * here, at 1 core and at N cores (data-parallel workers), beside PyTorch CPU at the same thread
 * count measured in the same run; then one complete demo distillation, end to end.
 * Same batch, same optimiser (Adam), same soft-target cross-entropy everywhere.
 *
 *   npm run bench:train -- [--steps 30] [--warmup 5] [--batch 64] [--cores 2]
 *                          [--backends wasm,cpu] [--students lenet5-half,mlp]
 *                          [--max-seconds 10] [--no-demo] [--json]
 *
 * Cells are bounded by --max-seconds as well as --steps, so the slow pure-JS cpu backend gets a
 * few steps instead of many minutes. The N-core figure uses the data-parallel trainer the runs
 * use (gradients averaged through shared memory); it is measured on wasm (on cpu it would take
 * minutes per cell). The native backends (tfjs-node, tfjs-node-gpu, webgpu) use their own threads
 * or the GPU, so they get one row.
 *
 * Beside each N-core figure stands the same N workers as independent replicas: each trains its own
 * shard of the batch with no exchange and no barrier. That is what this machine gives N threads
 * running the same kernels side by side, so no data-parallel scheme over them can beat it; the
 * "exchange" column is the data-parallel figure as a share of it.
 */
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend, BACKEND_ORDER, type BackendKey } from '../../src-main/backends/select-backend.ts';
import { listStudents } from '../../src-main/students/index.ts';
import { describeStudent } from '../../src-main/students/describe.ts';
import { softCe, softCrossEntropy } from '../../src-main/methods/losses.ts';
import { Rng } from '../../src-main/util/rng.ts';
import { table } from '../../src-main/cli/format.ts';
import { createAdam } from '../../src-main/training/optimizer.ts';
import { createDataParallelTrainer } from '../../src-main/training/parallel/data-parallel.ts';
import { createInstrumentedTrainer } from '../../src-main/training/parallel/testing.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '5' },
    batch: { type: 'string', default: '64' },
    cores: { type: 'string', default: String(os.availableParallelism()) },
    backends: { type: 'string' },
    students: { type: 'string' },
    'max-seconds': { type: 'string', default: '10' },
    python: { type: 'string', default: '/usr/bin/python3' },
    'no-demo': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const steps = Number(values.steps);
const warmup = Number(values.warmup);
const batch = Number(values.batch);
const cores = Number(values.cores);
const maxSeconds = Number(values['max-seconds']);
const log = (s: string) => process.stderr.write(s + '\n');

const students = listStudents().filter((s) => !values.students || values.students.split(',').includes(s.key));
const wanted = (values.backends?.split(',') ?? BACKEND_ORDER) as BackendKey[];

const rng = new Rng(1);
/** Enough distinct rows for the data-parallel trainer to walk through without repeating a batch. */
const rows = batch * 8;
const xData = Float32Array.from({ length: rows * 28 * 28 }, () => rng.next());
const yData = new Float32Array(rows * 10);
for (let i = 0; i < rows; i++) yData[i * 10 + rng.int(10)] = 1;

interface Cell {
  student: string;
  params: number;
  backend: BackendKey;
  cores: number;
  samplesPerSec: number;
  steps: number;
  torch: number | null;
  ratio: number | null;
  peakMB: number;
  /** N cores only: samples/s of the N workers as independent replicas (no exchange). */
  independent?: number;
}
interface Skipped {
  backend: BackendKey;
  reason: string;
}
const cells: Cell[] = [];
const skipped: Skipped[] = [];
const torchCache = new Map<string, number | null>();

/** Peak RSS of this process (worker threads included), sampled while `f` runs. */
async function withPeakRss<T>(f: () => Promise<T>): Promise<{ value: T; peakMB: number }> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 25);
  try {
    const value = await f();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { value, peakMB: peak / 2 ** 20 };
  } finally {
    clearInterval(timer);
  }
}

/** One core: the same step the single-thread trainer runs, on a fixed batch. */
async function singleCore(key: string): Promise<{ samplesPerSec: number; steps: number }> {
  const spec = students.find((s) => s.key === key)!;
  const model = spec.build({ inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
  const opt = createAdam(1e-3);
  const x = tf.tensor4d(xData.subarray(0, batch * 784), [batch, 28, 28, 1]);
  const y = tf.tensor2d(yData.subarray(0, batch * 10), [batch, 10]);
  const step = () =>
    opt.minimize(() => softCrossEntropy(model.apply(x, { training: true }) as tf.Tensor2D, y), true) as tf.Scalar;
  try {
    const tw = performance.now();
    for (let i = 0; i < warmup; i++) {
      const l = step();
      await l.data();
      l.dispose();
      if ((performance.now() - tw) / 1000 > maxSeconds / 2) break;
    }
    const t0 = performance.now();
    let done = 0;
    while (done < steps) {
      const l = step();
      done++;
      // Read back the loss now and then only: a sync per step would time the round trip.
      if (done % 5 === 0 || done === steps || (performance.now() - t0) / 1000 > maxSeconds) await l.data();
      l.dispose();
      if ((performance.now() - t0) / 1000 > maxSeconds) break;
    }
    return { samplesPerSec: (done * batch) / ((performance.now() - t0) / 1000), steps: done };
  } finally {
    tf.dispose([x, y]);
    opt.dispose();
    model.dispose();
  }
}

/** N cores: the data-parallel trainer, the global batch split across the workers. */
async function multiCore(
  key: string,
  backend: BackendKey,
  workers: number,
  independentReplicas = false,
): Promise<{ samplesPerSec: number; steps: number }> {
  const spec = students.find((s) => s.key === key)!;
  const model = spec.build({ inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
  const opts = {
    model,
    workers,
    images: xData,
    targets: yData,
    count: rows,
    dims: { height: 28, width: 28, channels: 1 },
    batchSize: batch,
    learningRate: 1e-3,
    loss: softCe(),
    backend,
  };
  const trainer = independentReplicas
    ? await createInstrumentedTrainer(opts, { independentReplicas })
    : await createDataParallelTrainer(opts);
  try {
    await trainer.runSteps(Math.max(1, Math.min(warmup, 2)));
    // Probe one step to size the timed run to --max-seconds.
    const probe = await trainer.runSteps(1);
    const n = Math.max(1, Math.min(steps, Math.floor(maxSeconds / Math.max(probe.seconds, 1e-3))));
    const r = await trainer.runSteps(n);
    return { samplesPerSec: r.samplesPerSecond, steps: n };
  } finally {
    await trainer.dispose();
    model.dispose();
  }
}

function torchReference(arch: string, threads: number): number | null {
  const k = `${arch}/${threads}`;
  if (torchCache.has(k)) return torchCache.get(k)!;
  let result: number | null = null;
  if (existsSync(values.python!)) {
    const script = path.join(here, 'torch_reference.py');
    const r = spawnSync(
      values.python!,
      [
        script,
        '--arch',
        arch,
        '--batch',
        String(batch),
        '--steps',
        String(steps),
        '--warmup',
        String(warmup),
        '--threads',
        String(threads),
      ],
      { encoding: 'utf8' },
    );
    if (r.status === 0)
      result = (JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { samplesPerSec: number }).samplesPerSec;
    else
      log(`PyTorch reference for ${arch} at ${threads} threads failed: ${(r.stderr || '').trim().split('\n').pop()}`);
  }
  torchCache.set(k, result);
  return result;
}

for (const backend of wanted) {
  let loaded: BackendKey;
  try {
    loaded = (await initBackend({ force: backend })).key;
  } catch (err) {
    const reason = (err as Error).message.replace(/^.*could not be loaded: /, '');
    skipped.push({ backend, reason });
    log(`${backend}: not available (${reason})`);
    continue;
  }
  // The data-parallel trainer also runs on cpu, but at 3–7 samples/s a cpu cell at N cores would
  // take minutes per student and tell nothing new; it is measured on wasm.
  const parallel = loaded === 'wasm';
  for (const spec of students) {
    const probe = spec.build({ inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
    const { params } = describeStudent(probe);
    probe.dispose();
    const coreCounts = parallel && cores > 1 ? [1, cores] : [1];
    for (const n of coreCounts) {
      const { value, peakMB } = await withPeakRss(() =>
        n === 1 ? singleCore(spec.key) : multiCore(spec.key, loaded, n),
      );
      const torch = torchReference(spec.key, n);
      const independent = n > 1 ? (await multiCore(spec.key, loaded, n, true)).samplesPerSec : undefined;
      cells.push({
        student: spec.key,
        params,
        backend: loaded,
        cores: n,
        samplesPerSec: value.samplesPerSec,
        steps: value.steps,
        torch,
        ratio: torch ? value.samplesPerSec / torch : null,
        peakMB,
        independent,
      });
      log(
        `${spec.key} ${loaded} ${n} core(s): ${value.samplesPerSec.toFixed(0)} samples/s over ${value.steps} steps${torch ? `, PyTorch ${torch.toFixed(0)}` : ''}` +
          `${independent ? `; as independent replicas ${independent.toFixed(0)}` : ''}`,
      );
    }
  }
}

/** The demo (`distill demo`), in its own process with a scratch home, timed from spawn to exit. */
function demoEndToEnd(): {
  seconds: number;
  accuracy: number | null;
  workers: number;
  backend: string | null;
  ok: boolean;
  error?: string;
} {
  const home = mkdtempSync(path.join(os.tmpdir(), 'distill-bench-demo-'));
  const workers = cores;
  try {
    const t0 = performance.now();
    const r = spawnSync(
      process.execPath,
      [path.join(root, 'bin', 'distill.js'), 'demo', '--json', '--home', home, '--workers', String(workers)],
      {
        encoding: 'utf8',
        cwd: root,
        env: { ...process.env, DISTILL_BACKEND: 'wasm' },
      },
    );
    const seconds = (performance.now() - t0) / 1000;
    if (r.status !== 0)
      return {
        seconds,
        accuracy: null,
        workers,
        backend: null,
        ok: false,
        error: (r.stderr || '').trim().split('\n').pop(),
      };
    const line = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { accuracy?: number; backend?: string };
    return { seconds, accuracy: line.accuracy ?? null, workers, backend: line.backend ?? null, ok: true };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

const demo = values['no-demo'] ? null : demoEndToEnd();
if (demo)
  log(
    `demo: ${demo.ok ? `${demo.seconds.toFixed(1)} s, accuracy ${((demo.accuracy ?? 0) * 100).toFixed(2)} %` : `failed: ${demo.error}`}`,
  );

const fmt = (x: number | null, d = 0) => (x === null ? 'n/a' : x.toFixed(d));
const oneCore = (c: Cell) => cells.find((o) => o.student === c.student && o.backend === c.backend && o.cores === 1);
const speedup = (c: Cell, sps = c.samplesPerSec): string => {
  const one = oneCore(c);
  return c.cores === 1 || !one ? '' : `${(sps / one.samplesPerSec).toFixed(2)}×`;
};
process.stdout.write(
  `\ntraining throughput, batch ${batch} (split across the cores), up to ${steps} timed steps or ${maxSeconds} s after ${warmup} warm-up; ` +
    `PyTorch CPU at the same thread count, same run\n` +
    table([
      [
        'student',
        'params',
        'backend',
        'cores',
        'samples/s',
        'vs 1 core',
        'independent, vs 1 core',
        'exchange',
        'PyTorch samples/s',
        'ours/PyTorch',
        'peak RSS MB',
      ],
      ...cells.map((c) => [
        c.student,
        String(c.params),
        c.backend,
        String(c.cores),
        fmt(c.samplesPerSec),
        speedup(c),
        c.independent ? speedup(c, c.independent) : '',
        c.independent ? `${((100 * c.samplesPerSec) / c.independent).toFixed(0)} %` : '',
        fmt(c.torch),
        fmt(c.ratio, 3),
        fmt(c.peakMB),
      ]),
    ]) +
    '\n' +
    (skipped.length ? `not available here: ${skipped.map((s) => `${s.backend} (${s.reason})`).join('; ')}\n` : '') +
    (demo
      ? `demo distillation end to end (${demo.workers} workers, wasm): ${demo.ok ? `${demo.seconds.toFixed(1)} s, test accuracy ${((demo.accuracy ?? 0) * 100).toFixed(2)} %` : `failed: ${demo.error}`}\n`
      : ''),
);
if (values.json)
  process.stdout.write(JSON.stringify({ batch, steps, warmup, maxSeconds, cores, cells, skipped, demo }) + '\n');
