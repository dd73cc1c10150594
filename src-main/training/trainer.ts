/**
 * The student training loop shared by methods: Adam, seeded shuffling, optional free
 * augmentation, and a loss given as a function of (student logits, batch targets).
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../util/rng.ts';
import { augmentBatch, type AugmentOptions } from './augment.ts';
import { createAdam } from './optimizer.ts';

export type BatchLoss = (logits: tf.Tensor2D, targets: tf.Tensor2D) => tf.Scalar;

/** Everything besides the model weights needed to continue training exactly where it stopped. */
export interface TrainState {
  /** Epochs completed. */
  epoch: number;
  rngState: number;
  /** Adam's step count and moment estimates, in the optimizer's own order. */
  optimizer: { name: string; shape: number[]; values: Float32Array }[];
}

export interface EpochEnd {
  epoch: number;
  epochs: number;
  loss: number;
  seconds: number;
  samples: number;
  /** Reads the optimizer and sampler state as of the end of this epoch, for a checkpoint. */
  snapshot: () => Promise<TrainState>;
}

export interface TrainSetup {
  model: tf.LayersModel;
  images: Float32Array;
  /** count × numClasses target rows, in the images' order. */
  targets: Float32Array;
  count: number;
  dims: { height: number; width: number; channels: number };
  epochs: number;
  batchSize: number;
  learningRate: number;
  augment: AugmentOptions;
  rng: Rng;
  loss: BatchLoss;
  /** Called after every epoch with the mean training loss; may be async (evaluation, checkpoints). */
  onEpoch?: (e: EpochEnd) => void | Promise<void>;
  /** Continue from a checkpoint: the model already holds its weights. */
  resume?: TrainState;
  /** Throttled by the caller; called after each step. */
  onStep?: (s: { epoch: number; step: number; steps: number }) => void;
  /** Checked between steps; when it returns true the loop stops after the current step. */
  shouldStop?: () => boolean;
  /**
   * Optional in-place edit of each gathered batch (n rows of images and targets) after
   * augmentation, e.g. on-the-fly MixUp; it costs no teacher queries.
   */
  batchHook?: (images: Float32Array, targets: Float32Array, n: number, rng: Rng) => void;
  /**
   * Optional replacement for `loss(model(x), y)`: the loss of a batch and the variables it trains
   * (GPD trains a wide dynamic teacher whose slices are the student). Defaults to the model's own.
   */
  objective?: { variables: tf.Variable[]; loss: (x: tf.Tensor4D, y: tf.Tensor2D) => tf.Scalar };
}

export interface TrainResult {
  epochsRun: number;
  samplesSeen: number;
  seconds: number;
  stopped: boolean;
}

/** Adam's running products β₁^t and β₂^t, which getWeights() leaves out. */
const BIAS_POWERS = ['accBeta1', 'accBeta2'];

function biasPower(optimizer: tf.Optimizer, name: string): tf.Variable | undefined {
  const v = (optimizer as unknown as Record<string, unknown>)[name];
  return v instanceof tf.Variable ? v : undefined;
}

export async function trainStudent(s: TrainSetup): Promise<TrainResult> {
  const { dims, count } = s;
  const per = dims.height * dims.width * dims.channels;
  const C = s.targets.length / count;
  const optimizer = createAdam(s.learningRate);
  // An explicit variable list fixes the order of Adam's slots, so a checkpoint restores into the
  // same places in a freshly built model.
  const variables = s.objective?.variables ?? s.model.trainableWeights.map((w) => w.read() as tf.Variable);
  if (s.resume) {
    const moments = s.resume.optimizer.filter((w) => !BIAS_POWERS.includes(w.name));
    await optimizer.setWeights(moments.map((w) => ({ name: w.name, tensor: tf.tensor(w.values, w.shape) })));
    // setWeights recomputes β^t with pow(), which differs in the last bits from the running
    // product Adam keeps; restoring the saved products makes a resumed run bit-identical.
    for (const w of s.resume.optimizer) {
      if (BIAS_POWERS.includes(w.name)) biasPower(optimizer, w.name)?.assign(tf.scalar(w.values[0]));
    }
    s.rng.setState(s.resume.rngState);
  }
  const order = new Int32Array(count);
  const xBuf = new Float32Array(s.batchSize * per);
  const yBuf = new Float32Array(s.batchSize * C);
  const scratch = new Float32Array(per);
  const steps = Math.ceil(count / s.batchSize);
  const start = performance.now();
  let samplesSeen = 0;
  let epochsRun = 0;
  let stopped = false;
  try {
    for (let epoch = (s.resume?.epoch ?? 0) + 1; epoch <= s.epochs && !stopped; epoch++) {
      const t0 = performance.now();
      // The epoch's order depends only on the RNG state, which is all a checkpoint needs to keep.
      for (let i = 0; i < count; i++) order[i] = i;
      s.rng.shuffle(order);
      let lossSum: tf.Tensor = tf.scalar(0);
      for (let step = 0; step < steps; step++) {
        const b0 = step * s.batchSize;
        const n = Math.min(s.batchSize, count - b0);
        // Gather in JS: avoids gather/slice kernels, which run in JS on wasm anyway.
        for (let i = 0; i < n; i++) {
          const src = order[b0 + i];
          xBuf.set(s.images.subarray(src * per, (src + 1) * per), i * per);
          yBuf.set(s.targets.subarray(src * C, (src + 1) * C), i * C);
        }
        augmentBatch(xBuf, n, dims, s.augment, s.rng, scratch);
        s.batchHook?.(xBuf, yBuf, n, s.rng);
        const x = tf.tensor4d(xBuf.subarray(0, n * per), [n, dims.height, dims.width, dims.channels]);
        const y = tf.tensor2d(yBuf.subarray(0, n * C), [n, C]);
        const objective = s.objective;
        const loss = optimizer.minimize(
          () => (objective ? objective.loss(x, y) : s.loss(s.model.apply(x, { training: true }) as tf.Tensor2D, y)),
          true,
          variables,
        ) as tf.Scalar;
        // Accumulate on the device; one read per epoch instead of a sync per step.
        const next = tf.add(lossSum, tf.mul(loss, n));
        lossSum.dispose();
        lossSum = next;
        tf.dispose([x, y, loss]);
        samplesSeen += n;
        s.onStep?.({ epoch, step: step + 1, steps });
        if (s.shouldStop?.()) {
          stopped = true;
          break;
        }
      }
      const epochLoss = (await lossSum.data())[0] / count;
      lossSum.dispose();
      if (stopped) break;
      epochsRun = epoch;
      const rngState = s.rng.getState();
      const snapshot = async (): Promise<TrainState> => ({
        epoch,
        rngState,
        optimizer: await Promise.all(
          // Stored as float32 throughout: the step count is an int32 tensor, exact in float32 up to
          // 2^24 steps, and one dtype keeps the checkpoint file a single flat array.
          (await optimizer.getWeights()).map(async (w) => ({ name: w.name, shape: w.tensor.shape, values: Float32Array.from(await w.tensor.data()) })),
        ).then((ws) => [
          ...ws,
          ...BIAS_POWERS.flatMap((name) => {
            const v = biasPower(optimizer, name);
            return v ? [{ name, shape: [], values: Float32Array.from(v.dataSync()) }] : [];
          }),
        ]),
      });
      await s.onEpoch?.({ epoch, epochs: s.epochs, loss: epochLoss, seconds: (performance.now() - t0) / 1000, samples: count, snapshot });
    }
  } finally {
    optimizer.dispose();
  }
  return { epochsRun, samplesSeen, seconds: (performance.now() - start) / 1000, stopped };
}
