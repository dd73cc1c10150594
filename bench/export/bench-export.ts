/**
 * `npm run bench:export` — ONNX Runtime CPU latency (p50/p95 at batch 1 over warm runs),
 * throughput at batch 32 and file size of every zoo student in every precision, beside tfjs
 * inference of the same model on the engine's backend, measured in the same run.
 * int8 is calibrated on Fashion-MNIST training images; the models are untrained (weights do not
 * change the cost), so no accuracy is reported here: `distill export` reports it per run.
 *
 *   npm run bench:export -- [--runs 200] [--warmup 20] [--threads 1] [--students resnet8,mlp] [--backend wasm] [--json]
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { initBackend, describeBackend, type BackendKey } from '../../src-main/backends/select-backend.ts';
import { listStudents } from '../../src-main/students/index.ts';
import { describeStudent } from '../../src-main/students/describe.ts';
import { loadDataset } from '../../src-main/data/load-dataset.ts';
import { exportPrecisions, PRECISIONS } from '../../src-main/export/precisions.ts';
import { measureOrtLatency, measureTfjsLatency, type LatencyResult } from '../../src-main/export/latency.ts';
import { inspectOptimizedGraph } from '../../src-main/export/ort-optimized-graph.ts';
import { table } from '../../src-main/cli/format.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '200' },
    warmup: { type: 'string', default: '20' },
    threads: { type: 'string', default: '1' },
    calibration: { type: 'string', default: '200' },
    students: { type: 'string' },
    backend: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const latencyOpts = {
  runs: Number(values.runs),
  warmup: Number(values.warmup),
  threads: Number(values.threads),
  batch: 32,
};
const log = (s: string) => process.stderr.write(s + '\n');

const choice = await initBackend({ force: values.backend as BackendKey | undefined });
log(describeBackend(choice));
const train = loadDataset({ kind: 'idx', split: 'train' });
const calibration = {
  images: train.images,
  count: Math.min(Number(values.calibration), train.count),
  dims: { height: 28, width: 28, channels: 1 },
};

interface Row {
  student: string;
  params: number;
  mflops: number;
  engine: string;
  bytes: number | null;
  lat: LatencyResult;
  note: string;
}
const rows: Row[] = [];
for (const spec of listStudents().filter((s) => !values.students || values.students.split(',').includes(s.key))) {
  const model = spec.build({ inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
  const d = describeStudent(model);
  const base = { student: spec.key, params: d.params, mflops: d.flops / 1e6 };
  rows.push({
    ...base,
    engine: `tfjs ${choice.key}`,
    bytes: null,
    lat: await measureTfjsLatency(model, latencyOpts),
    note: 'reference',
  });
  for (const a of await exportPrecisions(model, { precisions: PRECISIONS, calibration })) {
    const lat = await measureOrtLatency(a.bytes, a.inputShape.slice(1).map(Number), latencyOpts);
    const note =
      a.precision === 'int8' ? `${(await inspectOptimizedGraph(a.bytes)).integerKernels.length} int kernels` : '';
    rows.push({ ...base, engine: `ORT ${a.precision}`, bytes: a.bytes.length, lat, note });
  }
  model.dispose();
  log(`${spec.key} done`);
}

if (values.json) {
  process.stdout.write(
    JSON.stringify({ backend: choice.key, onnxruntime: ort.env.versions.common, ...latencyOpts, rows }) + '\n',
  );
} else {
  process.stdout.write(
    `ONNX Runtime ${ort.env.versions.common} CPU, ${latencyOpts.threads} thread(s); tfjs ${tf.version.tfjs} on ${choice.key}. ` +
      `Batch 1: p50/p95 of ${latencyOpts.runs} runs after ${latencyOpts.warmup} warm-up. Throughput: batch ${latencyOpts.batch}.\n\n` +
      table([
        ['student', 'params', 'MFLOPs', 'engine', 'size KiB', 'p50 ms', 'p95 ms', 'img/s @32', 'note'],
        ...rows.map((r) => [
          r.student,
          r.params.toLocaleString('en-US'),
          r.mflops.toFixed(3),
          r.engine,
          r.bytes === null ? '-' : (r.bytes / 1024).toFixed(1),
          r.lat.p50Ms.toFixed(3),
          r.lat.p95Ms.toFixed(3),
          r.lat.throughput.toFixed(0),
          r.note,
        ]),
      ]) +
      '\n',
  );
}
