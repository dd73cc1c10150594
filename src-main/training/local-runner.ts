/** The step runner on this thread: one Adam step per batch on the model (or the setup's objective). */
import * as tf from '@tensorflow/tfjs';
import { createAdam } from './optimizer.ts';
import { BatchAssembler } from './batch.ts';
import { readOptimizerState, restoreOptimizerState } from './optimizer-state.ts';
import { setLearningRate } from './schedule.ts';
import { resolveHook, resolveLoss } from './step-registry.ts';
import type { StepRunner } from './step-runner.ts';
import type { TrainSetup } from './train-setup.ts';

export async function createLocalRunner(s: TrainSetup): Promise<StepRunner> {
  const { count, batchSize } = s;
  const C = s.targets.length / count;
  const per = s.dims.height * s.dims.width * s.dims.channels;
  const objective = s.objective;
  const loss = s.loss && resolveLoss(s.loss);
  const forward = objective
    ? (x: tf.Tensor4D, y: tf.Tensor2D) => objective.loss(x, y)
    : (x: tf.Tensor4D, y: tf.Tensor2D) => loss!(s.model.apply(x, { training: true }) as tf.Tensor2D, y);
  const batches = new BatchAssembler(
    {
      images: s.images,
      targets: s.targets,
      dims: s.dims,
      C,
      augment: s.augment,
      hook: s.batchHook && resolveHook(s.batchHook, { per, C }),
    },
    batchSize,
  );
  const optimizer = createAdam(s.learningRate);
  // An explicit variable list fixes the order of Adam's slots, so a checkpoint restores into the
  // same places in a freshly built model.
  const variables = objective?.variables ?? s.model.trainableWeights.map((w) => w.read() as tf.Variable);
  if (s.resume) await restoreOptimizerState(optimizer, s.resume.optimizer);
  const order = new Int32Array(count);
  const steps = Math.ceil(count / batchSize);
  return {
    stepsPerEpoch: steps,
    order,
    // A stop request ends the epoch after the step it came in.
    stopPending: false,
    async runEpoch(e) {
      let lossSum: tf.Tensor = tf.scalar(0);
      let samples = 0;
      let stopped = false;
      for (let step = 0; step < steps; step++) {
        const b0 = step * batchSize;
        const n = Math.min(batchSize, count - b0);
        const { x, y } = batches.assemble(order, b0, n, s.rng);
        setLearningRate(optimizer, e.rates[step]);
        const value = optimizer.minimize(() => forward(x, y), true, variables) as tf.Scalar;
        // Accumulate on the device; one read per epoch instead of a sync per step.
        const next = tf.add(lossSum, tf.mul(value, n));
        lossSum.dispose();
        lossSum = next;
        tf.dispose([x, y, value]);
        samples += n;
        e.onStep(step + 1);
        if (e.shouldStop()) {
          stopped = true;
          break;
        }
      }
      const sum = (await lossSum.data())[0];
      lossSum.dispose();
      return { lossSum: sum, samples, stopped, optimizer: () => readOptimizerState(optimizer) };
    },
    async dispose() {
      optimizer.dispose();
    },
  };
}
