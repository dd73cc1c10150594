/**
 * Reading and restoring Adam's state for checkpoints, shared by the single-core loop and the
 * data-parallel workers so both write and read the same TrainState format.
 */
import * as tf from '@tensorflow/tfjs';

export interface OptimizerWeight {
  name: string;
  shape: number[];
  values: Float32Array;
}

/** Adam's running products β₁^t and β₂^t, which getWeights() leaves out. */
export const BIAS_POWERS = ['accBeta1', 'accBeta2'];

function biasPower(optimizer: tf.Optimizer, name: string): tf.Variable | undefined {
  const v = (optimizer as unknown as Record<string, unknown>)[name];
  return v instanceof tf.Variable ? v : undefined;
}

/** Restores what {@link readOptimizerState} read, bit for bit. */
export async function restoreOptimizerState(optimizer: tf.Optimizer, state: OptimizerWeight[]): Promise<void> {
  const moments = state.filter((w) => !BIAS_POWERS.includes(w.name));
  await optimizer.setWeights(moments.map((w) => ({ name: w.name, tensor: tf.tensor(w.values, w.shape) })));
  // setWeights recomputes β^t with pow(), which differs in the last bits from the running
  // product Adam keeps; restoring the saved products makes a resumed run bit-identical.
  for (const w of state) {
    if (BIAS_POWERS.includes(w.name)) biasPower(optimizer, w.name)?.assign(tf.scalar(w.values[0]));
  }
}

/** Adam's step count, moments (in the optimizer's own order) and bias powers. */
export async function readOptimizerState(optimizer: tf.Optimizer): Promise<OptimizerWeight[]> {
  const ws = await Promise.all(
    // Stored as float32 throughout: the step count is an int32 tensor, exact in float32 up to
    // 2^24 steps, and one dtype keeps the checkpoint file a single flat array.
    (await optimizer.getWeights()).map(async (w) => ({
      name: w.name,
      shape: w.tensor.shape,
      values: Float32Array.from(await w.tensor.data()),
    })),
  );
  const powers: OptimizerWeight[] = [];
  for (const name of BIAS_POWERS) {
    const v = biasPower(optimizer, name);
    if (v) powers.push({ name, shape: [], values: Float32Array.from(await v.data()) });
  }
  return [...ws, ...powers];
}
