/**
 * CPU latency and throughput of an exported file in ONNX Runtime: warm runs only (the first runs
 * pay for allocation and kernel selection), p50/p95 at batch 1 and images per second at batch 32.
 * The tfjs twin measures the same student in tfjs, as the reference the bench prints beside it.
 */
import * as tf from '@tensorflow/tfjs';
import { openSession } from './ort-run.ts';
import * as ort from 'onnxruntime-node';

export interface LatencyOptions {
  /** Timed batch-1 runs. Default 200. */
  runs?: number;
  /** Untimed runs first. Default 20. */
  warmup?: number;
  /** Batch for the throughput figure. Default 32. */
  batch?: number;
  /** Timed runs at that batch. Default 20. */
  batchRuns?: number;
  /** ORT intra-op threads. Default 1, so figures are comparable across machines and with tfjs. */
  threads?: number;
}

export interface LatencyResult {
  p50Ms: number;
  p95Ms: number;
  /** Images per second at `batch`. */
  throughput: number;
  batch: number;
  runs: number;
  warmup: number;
  threads: number;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

function defaults(opts: LatencyOptions): Required<LatencyOptions> {
  return {
    runs: opts.runs ?? 200,
    warmup: opts.warmup ?? 20,
    batch: opts.batch ?? 32,
    batchRuns: opts.batchRuns ?? 20,
    threads: opts.threads ?? 1,
  };
}

async function time(runs: number, warmup: number, once: () => Promise<void>): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await once();
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await once();
    ms.push(performance.now() - t0);
  }
  return ms.sort((a, b) => a - b);
}

function summarise(single: number[], batched: number[], o: Required<LatencyOptions>): LatencyResult {
  const total = batched.reduce((a, b) => a + b, 0);
  return {
    p50Ms: percentile(single, 50),
    p95Ms: percentile(single, 95),
    throughput: (o.batch * batched.length) / (total / 1000),
    batch: o.batch,
    runs: o.runs,
    warmup: o.warmup,
    threads: o.threads,
  };
}

/** `inputShape` is the file's input shape without the batch axis, in its own layout. */
export async function measureOrtLatency(
  bytes: Uint8Array,
  inputShape: number[],
  opts: LatencyOptions = {},
): Promise<LatencyResult> {
  const o = defaults(opts);
  const session = await openSession(bytes, {
    intraOpNumThreads: o.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  });
  try {
    const feed = (n: number) => {
      const size = n * inputShape.reduce((a, d) => a * d, 1);
      const data = Float32Array.from({ length: size }, (_, i) => ((i * 2654435761) % 1000) / 1000);
      return { [session.inputNames[0]]: new ort.Tensor('float32', data, [n, ...inputShape]) };
    };
    const one = feed(1);
    const many = feed(o.batch);
    const single = await time(o.runs, o.warmup, async () => void (await session.run(one)));
    const batched = await time(o.batchRuns, Math.min(o.warmup, 5), async () => void (await session.run(many)));
    return summarise(single, batched, o);
  } finally {
    await session.release();
  }
}

/** The same measurement for a tfjs model on the active tfjs backend (input NHWC). */
export async function measureTfjsLatency(model: tf.LayersModel, opts: LatencyOptions = {}): Promise<LatencyResult> {
  const o = defaults(opts);
  const dims = (model.inputs[0].shape as number[]).slice(1);
  const one = tf.randomUniform([1, ...dims]);
  const many = tf.randomUniform([o.batch, ...dims]);
  try {
    const run = (x: tf.Tensor) => async () => {
      const y = model.predict(x) as tf.Tensor;
      await y.data();
      y.dispose();
    };
    const single = await time(o.runs, o.warmup, run(one));
    const batched = await time(o.batchRuns, Math.min(o.warmup, 5), run(many));
    return { ...summarise(single, batched, o), threads: 1 };
  } finally {
    tf.dispose([one, many]);
  }
}
