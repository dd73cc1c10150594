/**
 * `npm run bench:teacher`: samples/s through the TeacherClient against `distill teacher serve`
 * (a separate process, as a real API would be), at several batch sizes and concurrencies, JSON
 * versus binary tensor bodies, beside the server model's own ONNX Runtime throughput measured in
 * the same run at the same batch size: that is the ceiling, and the ratio is the transport's cost.
 * Writes bench/out/teacher.json. Options: --n SAMPLES (default 2048).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { RESOURCES_DIR } from '../../src-main/recipe/load-recipe.ts';
import { loadServedModel } from '../../src-main/teacher-server/served-model.ts';
import { openTeacher } from '../../src-main/teachers/index.ts';
import { readTeacherManifest } from '../../src-main/teachers/onnx-local-teacher.ts';
import { TeacherClient } from '../../src-main/teachers/teacher-client.ts';
import { QueryBudget } from '../../src-main/teachers/query-budget.ts';
import { toTeacherInput } from '../../src-main/teachers/preprocess.ts';
import { loadDataset, resolveFashionMnistDir } from '../../src-main/data/load-dataset.ts';
import { table } from '../../src-main/cli/format.ts';

const { values } = parseArgs({ options: { n: { type: 'string', default: '2048' } } });
const N = Number(values.n);
const manifest = path.join(RESOURCES_DIR, 'teachers', 'fashion-mnist-cnn.json');
const input = readTeacherManifest(manifest).input;
const data = loadDataset({ kind: 'idx', dir: resolveFashionMnistDir().dir, split: 'test' });
const per = 28 * 28;
const images = data.images.subarray(0, N * per);

const server = spawn(process.execPath, [path.resolve('bin/distill.js'), 'teacher', 'serve', '--model', manifest], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const url = await new Promise<string>((resolve, reject) => {
  let buf = '';
  server.stdout!.on('data', (c: Buffer) => {
    buf += c.toString();
    const m = /teacher server (http:\/\/127\.0\.0\.1:\d+)/.exec(buf);
    if (m) resolve(m[1]);
  });
  server.on('exit', (code) => reject(new Error(`teacher serve exited with ${code}`)));
});

const model = await loadServedModel(manifest);
const prepared = toTeacherInput(images, N, { height: 28, width: 28, channels: 1 }, input);

/** Best of three passes over the same samples, one request at a time: the model's own ceiling. */
async function ortThroughput(batch: number): Promise<number> {
  await model.run(prepared.subarray(0, batch * per), batch);
  let best = 0;
  for (let pass = 0; pass < 3; pass++) {
    const t0 = performance.now();
    for (let i = 0; i < N; i += batch) {
      const n = Math.min(batch, N - i);
      await model.run(prepared.subarray(i * per, (i + n) * per), n);
    }
    best = Math.max(best, N / ((performance.now() - t0) / 1000));
  }
  return best;
}

interface Row {
  batch: number;
  concurrency: number;
  body: string;
  samplesPerSecond: number;
  ortSamplesPerSecond: number;
  ratio: number;
  requestBytes: number;
}
const rows: Row[] = [];
try {
  for (const batch of [16, 64, 256]) {
    const ort = await ortThroughput(batch);
    for (const concurrency of [1, 4]) {
      for (const binary of [false, true]) {
        const teacher = await openTeacher('kserve-v2', {
          url,
          modelName: 'fashion-mnist-cnn',
          input,
          responseKind: 'logits',
          numClasses: 10,
          binary,
        });
        // Warm the connection and the server's session at this batch size.
        await teacher.queryPrepared(prepared.subarray(0, batch * per), batch);
        const client = new TeacherClient(teacher, new QueryBudget(N), { maxBatch: batch, concurrency });
        const t0 = performance.now();
        await client.label(images, N, per);
        const sps = N / ((performance.now() - t0) / 1000);
        const requestBytes = binary
          ? batch * per * 4
          : Buffer.byteLength(JSON.stringify({ inputs: [{ data: Array.from(prepared.subarray(0, batch * per)) }] }));
        rows.push({
          batch,
          concurrency,
          body: binary ? 'binary' : 'json',
          samplesPerSecond: Math.round(sps),
          ortSamplesPerSecond: Math.round(ort),
          ratio: Number((sps / ort).toFixed(2)),
          requestBytes,
        });
        await teacher.close();
      }
    }
  }
} finally {
  server.kill('SIGTERM');
  await model.close();
}

process.stdout.write(
  table([
    ['batch', 'concurrency', 'body', 'client samples/s', 'ORT samples/s', 'ratio', 'request bytes/batch'],
    ...rows.map((r) => [
      String(r.batch),
      String(r.concurrency),
      r.body,
      String(r.samplesPerSecond),
      String(r.ortSamplesPerSecond),
      r.ratio.toFixed(2),
      r.requestBytes.toLocaleString('en-US'),
    ]),
  ]) + '\n',
);
const outDir = path.resolve('bench/out');
mkdirSync(outDir, { recursive: true });
writeFileSync(
  path.join(outDir, 'teacher.json'),
  JSON.stringify(
    {
      date: new Date().toISOString(),
      cpus: os.cpus().length,
      cpu: os.cpus()[0]?.model,
      node: process.version,
      samples: N,
      rows,
    },
    null,
    2,
  ),
);
