/**
 * The student training loop shared by methods: Adam, seeded shuffling, optional free
 * augmentation, and a loss named by a spec (step-registry.ts). The epoch loop here is the only
 * one; a step runner trains each epoch's steps, on this thread (local-runner.ts) or data-parallel
 * across worker threads (parallel/data-parallel.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { MIN_FLOPS_PER_PARAM_STEP, resolveWorkers, workersByDefault } from './parallel/specs.ts';
import { describeStudent } from '../students/describe.ts';
import { createDataParallelRunner, parallelBackend } from './parallel/data-parallel.ts';
import { createLocalRunner } from './local-runner.ts';
import { epochLearningRates } from './schedule.ts';
import type { TrainSetup, TrainResult, TrainState } from './train-setup.ts';

export type { TrainState, EpochEnd, TrainSetup, TrainResult } from './train-setup.ts';

/** How many threads `s` trains on: more than one only when the setup can run data-parallel. */
export function trainingThreads(s: TrainSetup): number {
  const wanted = resolveWorkers(s.workers);
  if (wanted <= 1) return 1;
  let why = '';
  if (s.objective) why = 'this method trains its own objective, which the worker threads cannot rebuild';
  else if (!parallelBackend())
    why = `worker threads are for the wasm and cpu backends; ${tf.getBackend()} schedules its own`;
  else if (workersByDefault(s.workers)) {
    const d = describeStudent(s.model);
    const perParam = (s.batchSize * d.flops) / Math.max(1, d.trainableParams);
    if (perParam < MIN_FLOPS_PER_PARAM_STEP) {
      why = `at batch ${s.batchSize} this student does ${Math.round(perParam)} FLOPs per parameter per step, under the ${MIN_FLOPS_PER_PARAM_STEP} where worker threads pay; set training.workers or --workers to use them anyway`;
    }
  }
  if (why) {
    s.log?.(`training on one thread: ${why}`);
    return 1;
  }
  const threads = Math.min(wanted, s.batchSize);
  s.log?.(`training data-parallel on ${threads} worker threads (global batch ${s.batchSize} split across them)`);
  return threads;
}

export async function trainStudent(s: TrainSetup): Promise<TrainResult> {
  if (!s.loss && !s.objective) throw new Error('trainStudent needs a loss or an objective');
  const threads = trainingThreads(s);
  const start = performance.now();
  if (s.resume) s.rng.setState(s.resume.rngState);
  if ((s.resume?.epoch ?? 0) >= s.epochs) return { epochsRun: 0, samplesSeen: 0, seconds: 0, stopped: false };
  const runner = threads > 1 ? await createDataParallelRunner(s, threads) : await createLocalRunner(s);
  const steps = runner.stepsPerEpoch;
  let samplesSeen = 0;
  let epochsRun = 0;
  let stopped = false;
  try {
    for (let epoch = (s.resume?.epoch ?? 0) + 1; epoch <= s.epochs; epoch++) {
      if (runner.stopPending) {
        stopped = true;
        break;
      }
      const t0 = performance.now();
      // The epoch's order depends only on the RNG state, which is all a checkpoint needs to keep.
      const order = runner.order;
      for (let i = 0; i < s.count; i++) order[i] = i;
      s.rng.shuffle(order);
      const r = await runner.runEpoch({
        rates: epochLearningRates(s.learningRate, s.schedule, epoch, steps, s.scheduleEpochs ?? s.epochs),
        onStep: (step) => s.onStep?.({ epoch, step, steps }),
        shouldStop: () => s.shouldStop?.() ?? false,
      });
      samplesSeen += r.samples;
      if (r.stopped) {
        stopped = true;
        break;
      }
      epochsRun = epoch;
      const rngState = s.rng.getState();
      const snapshot = async (): Promise<TrainState> => ({ epoch, rngState, optimizer: await r.optimizer() });
      await s.onEpoch?.({
        epoch,
        epochs: s.epochs,
        loss: r.lossSum / s.count,
        seconds: (performance.now() - t0) / 1000,
        samples: s.count,
        snapshot,
      });
    }
  } finally {
    await runner.dispose();
  }
  return { epochsRun, samplesSeen, seconds: (performance.now() - start) / 1000, stopped };
}
