/**
 * Which compute backends load on this machine, what GPU they found, whether they compute the
 * same forward pass and gradients as the cpu backend, and how fast a matmul and a training step
 * run on each. Prints one JSON report on stdout (progress on stderr).
 *
 *   node --import tsx scripts/gpu-check.ts [--backends webgpu,wasm] [--batch 64]
 *       [--students lenet5,mobilenet-tiny,resnet8] [--seconds 8] [--matmul 1024] [--out report.json]
 *
 * Meant for a GPU machine (see docs/gpu.md). The gradients are compared with the cpu backend's
 * on the same weights and inputs, so "trains on the GPU" means "gives the cpu's gradients", not
 * only "does not throw".
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import {
  BACKEND_ORDER,
  describeBackend,
  initBackend,
  isBackendKey,
  releaseBackend,
  type BackendChoice,
  type BackendKey,
} from '../src-main/backends/select-backend.ts';
import { getStudent } from '../src-main/students/index.ts';
import { softCrossEntropy } from '../src-main/methods/losses.ts';
import { createAdam } from '../src-main/training/optimizer.ts';

const { values } = parseArgs({
  options: {
    // cpu is only the reference for the gradient check by default: timing it takes minutes.
    backends: { type: 'string', default: BACKEND_ORDER.filter((k) => k !== 'cpu').join(',') },
    students: { type: 'string', default: 'lenet5,mobilenet-tiny,resnet8' },
    batch: { type: 'string', default: '64' },
    seconds: { type: 'string', default: '8' },
    matmul: { type: 'string', default: '1024' },
    out: { type: 'string' },
  },
});

const keys = values.backends
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
for (const k of keys)
  if (!isBackendKey(k)) throw new Error(`--backends: '${k}' is not one of ${BACKEND_ORDER.join(', ')}`);
const students = values.students
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const batch = Number(values.batch);
const budgetMs = Number(values.seconds) * 1000;
const matmulN = Number(values.matmul);
const log = (m: string) => process.stderr.write(`${m}\n`);
const SHAPE: [number, number, number] = [28, 28, 1];
const CLASSES = 10;

function packageVersion(name: string): string | null {
  try {
    return (createRequire(import.meta.url)(`${name}/package.json`) as { version: string }).version;
  } catch {
    return null;
  }
}

/** Deterministic inputs, made in JS so that every backend sees the same numbers. */
function inputs(n: number): { x: Float32Array; y: Float32Array } {
  let s = 12345;
  const next = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const x = new Float32Array(n * SHAPE[0] * SHAPE[1] * SHAPE[2]).map(() => next());
  const y = new Float32Array(n * CLASSES);
  for (let i = 0; i < n; i++) y[i * CLASSES + (i % CLASSES)] = 1;
  return { x, y };
}

interface Reference {
  weights: Float32Array[];
  logits: Float32Array;
  loss: number;
  grads: Float32Array[];
}

/**
 * Forward logits (inference) and the loss gradients (training mode) for given weights. Reads
 * asynchronously: the WebGPU backend has no synchronous read in Node (it needs OffscreenCanvas).
 */
async function forwardAndGrads(key: string, weights: Float32Array[] | null, n: number): Promise<Reference> {
  const model = getStudent(key).build({ inputShape: SHAPE, numClasses: CLASSES, seed: 1 });
  const held: tf.Tensor[] = [];
  try {
    if (weights) {
      const ts = model.getWeights().map((w, i) => tf.tensor(weights[i], w.shape));
      model.setWeights(ts);
      tf.dispose(ts);
    }
    const { x, y } = inputs(n);
    // Read before anything runs: a training-mode forward pass updates batch norm's moving stats.
    const initial = await Promise.all(model.getWeights().map(async (w) => Float32Array.from(await w.data())));
    const xt = tf.tensor4d(x, [n, ...SHAPE]);
    const yt = tf.tensor2d(y, [n, CLASSES]);
    const logitsT = tf.tidy(() => model.predict(xt) as tf.Tensor);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const { value, grads } = tf.variableGrads(
      () => softCrossEntropy(model.apply(xt, { training: true }) as tf.Tensor2D, yt),
      vars,
    );
    held.push(xt, yt, logitsT, value, ...Object.values(grads));
    return {
      weights: initial,
      logits: Float32Array.from(await logitsT.data()),
      loss: (await value.data())[0],
      grads: await Promise.all(vars.map(async (v) => Float32Array.from(await grads[v.name].data()))),
    };
  } finally {
    tf.dispose(held);
    model.dispose();
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
function maxAbs(a: Float32Array): number {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}

/** Runs `step` until `budgetMs` has passed (at least `min` times) after `warm` untimed runs. */
async function timeIt(
  step: () => Promise<void>,
  warm: number,
  min: number,
): Promise<{ runs: number; msPerRun: number }> {
  for (let i = 0; i < warm; i++) await step();
  const t0 = performance.now();
  let runs = 0;
  while (runs < min || performance.now() - t0 < budgetMs) {
    await step();
    runs++;
  }
  return { runs, msPerRun: (performance.now() - t0) / runs };
}

async function matmulBench(): Promise<{ n: number; msPerRun: number; gflops: number }> {
  const a = tf.randomNormal([matmulN, matmulN], 0, 1, 'float32', 1);
  const b = tf.randomNormal([matmulN, matmulN], 0, 1, 'float32', 2);
  try {
    // Reading one element back makes each run wait for its product (and nothing more).
    const t = await timeIt(
      async () => {
        const c = tf.matMul(a, b);
        const corner = tf.slice(c, [0, 0], [1, 1]);
        await corner.data();
        tf.dispose([c, corner]);
      },
      2,
      3,
    );
    return { n: matmulN, msPerRun: t.msPerRun, gflops: (2 * matmulN ** 3) / (t.msPerRun * 1e6) };
  } finally {
    tf.dispose([a, b]);
  }
}

/** The training loop's step: Adam on soft cross-entropy, the loss read back every step. */
async function trainBench(
  key: string,
): Promise<{ batch: number; steps: number; msPerStep: number; samplesPerSecond: number }> {
  const model = getStudent(key).build({ inputShape: SHAPE, numClasses: CLASSES, seed: 1 });
  const opt = createAdam(1e-3);
  const { x, y } = inputs(batch);
  const xt = tf.tensor4d(x, [batch, ...SHAPE]);
  const yt = tf.tensor2d(y, [batch, CLASSES]);
  try {
    const t = await timeIt(
      async () => {
        const l = opt.minimize(
          () => softCrossEntropy(model.apply(xt, { training: true }) as tf.Tensor2D, yt),
          true,
        ) as tf.Scalar;
        await l.data();
        l.dispose();
      },
      3,
      2,
    );
    return { batch, steps: t.runs, msPerStep: t.msPerRun, samplesPerSecond: (batch * 1000) / t.msPerRun };
  } finally {
    tf.dispose([xt, yt]);
    opt.dispose();
    model.dispose();
  }
}

interface BackendReport {
  key: BackendKey;
  loaded: boolean;
  error?: string;
  choice?: BackendChoice;
  line?: string;
  matmul?: Awaited<ReturnType<typeof matmulBench>> | { error: string };
  students?: Record<
    string,
    {
      agreement?:
        | {
            /** Logits and gradients within 1% of the cpu's largest magnitude (float32 summation order differs). */
            agrees: boolean;
            loss: number;
            lossCpu: number;
            logitsMaxAbsDiff: number;
            logitsMaxAbs: number;
            gradMaxAbsDiff: number;
            gradMaxAbs: number;
          }
        | { error: string };
      training?: Awaited<ReturnType<typeof trainBench>> | { error: string };
    }
  >;
}

const errorOf = (err: unknown) => ({ error: err instanceof Error ? err.message.split('\n')[0] : String(err) });

// The cpu reference first, on a small batch: it is the slowest backend.
const REF_BATCH = 8;
const reference = new Map<string, Reference>();
await initBackend({ force: 'cpu' });
for (const key of students) {
  log(`reference gradients for ${key} on cpu`);
  reference.set(key, await forwardAndGrads(key, null, REF_BATCH));
}

const backends: BackendReport[] = [];
let auto: { line: string; choice: BackendChoice } | { error: string };
try {
  const c = await initBackend();
  auto = { line: describeBackend(c), choice: c };
} catch (err) {
  auto = errorOf(err);
}

for (const key of keys as BackendKey[]) {
  const r: BackendReport = { key, loaded: false };
  backends.push(r);
  try {
    r.choice = await initBackend({ force: key });
    r.loaded = true;
    r.line = describeBackend(r.choice);
    log(r.line);
  } catch (err) {
    r.error = errorOf(err).error;
    log(`${key}: ${r.error}`);
    continue;
  }
  try {
    r.matmul = await matmulBench();
  } catch (err) {
    r.matmul = errorOf(err);
  }
  r.students = {};
  for (const s of students) {
    const entry: NonNullable<BackendReport['students']>[string] = {};
    r.students[s] = entry;
    try {
      const ref = reference.get(s)!;
      const got = await forwardAndGrads(s, ref.weights, REF_BATCH);
      const a = {
        loss: got.loss,
        lossCpu: ref.loss,
        logitsMaxAbsDiff: maxAbsDiff(got.logits, ref.logits),
        logitsMaxAbs: maxAbs(ref.logits),
        gradMaxAbsDiff: Math.max(...got.grads.map((g, i) => maxAbsDiff(g, ref.grads[i]))),
        gradMaxAbs: Math.max(...ref.grads.map(maxAbs)),
      };
      const agrees =
        a.logitsMaxAbsDiff <= 0.01 * a.logitsMaxAbs + 1e-6 &&
        a.gradMaxAbsDiff <= 0.01 * a.gradMaxAbs + 1e-6 &&
        Math.abs(a.loss - a.lossCpu) <= 0.01 * Math.abs(a.lossCpu) + 1e-6;
      entry.agreement = { agrees, ...a };
      log(
        `  ${s}: ${agrees ? 'agrees with' : 'DIFFERS from'} the cpu backend (gradients max |Δ| ${a.gradMaxAbsDiff.toExponential(1)} of ${a.gradMaxAbs.toExponential(1)})`,
      );
    } catch (err) {
      entry.agreement = errorOf(err);
    }
    try {
      entry.training = await trainBench(s);
      log(`  ${s}: ${entry.training.samplesPerSecond.toFixed(0)} samples/s (batch ${batch})`);
    } catch (err) {
      entry.training = errorOf(err);
      log(`  ${s}: ${entry.training.error}`);
    }
  }
}

const report = {
  when: new Date().toISOString(),
  node: process.version,
  platform: `${process.platform}-${process.arch}`,
  cpus: os.cpus().length,
  packages: Object.fromEntries(
    [
      '@tensorflow/tfjs',
      '@tensorflow/tfjs-backend-wasm',
      '@tensorflow/tfjs-backend-webgpu',
      'webgpu',
      '@tensorflow/tfjs-node',
      '@tensorflow/tfjs-node-gpu',
    ].map((p) => [p, packageVersion(p)]),
  ),
  settings: { batch, seconds: budgetMs / 1000, matmul: matmulN, referenceBatch: REF_BATCH, inputShape: SHAPE },
  auto,
  backends,
};
releaseBackend();
const json = JSON.stringify(report, null, 2);
if (values.out) writeFileSync(values.out, `${json}\n`);
process.stdout.write(`${json}\n`);
