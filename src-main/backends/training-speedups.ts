/**
 * Faster training on the wasm backend, without changing what is computed.
 *
 * tfjs composes several gradients out of many small full-size ops, and on wasm every op pays a
 * fixed dispatch cost plus a pass over memory. Profiling a training step of the zoo students
 * (`scripts/profile-train.ts`) showed where that hurts:
 *   - FusedBatchNorm's gradient tiles the per-channel 1/σ up to the activation's full shape
 *     (a Tile per batch-norm layer: over a third of a MobileNet-tiny step);
 *   - ReLU / ReLU6 / clip gradients build boolean masks with 3–5 ops each;
 *   - Adam runs about a dozen ops per variable per step.
 *
 * This module replaces those with:
 *   - a batch-norm gradient that broadcasts instead of tiling (every backend: it is the same math);
 *   - ReLU6 and clip masks built from step() on wasm, where ops that produce booleans are slow;
 *     other backends keep tfjs's own formulas;
 *   - one fused Adam update per small variable, a kernel written in JS that works directly on the
 *     wasm heap: a single loop instead of a dozen dispatches and memory passes.
 *
 * Float32 rounding is kept step by step (Math.fround), so the fused Adam gives the same bits as
 * tfjs's op-by-op Adam on wasm.
 */
import * as tf from '@tensorflow/tfjs';
import { maskedGradient } from './heap-kernels.ts';
import type { WasmBackendLike } from './wasm-backend-like.ts';

const ADAM_STEP = 'DistillAdamStep';

function f32(info: tf.TensorInfo, kernel: string): void {
  if (info.dtype !== 'float32') throw new Error(`${kernel}: expected float32, got ${info.dtype}`);
}

/**
 * One Adam step for one variable. Updates the moment buffers m and v in place (they belong to the
 * optimizer alone) and returns the new value in a fresh buffer: weights must get a new buffer,
 * because the wasm backend caches XNNPACK operators (with packed weights) per filter buffer and
 * only drops them when that buffer is freed.
 */
function adamStep(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const { value, m, v, g } = args.inputs as Record<'value' | 'm' | 'v' | 'g', tf.TensorInfo>;
  for (const t of [value, m, v, g]) f32(t, ADAM_STEP);
  const backend = args.backend as WasmBackendLike;
  const a = args.attrs as {
    lr: number;
    beta1: number;
    beta2: number;
    epsilon: number;
    oneMinusAccBeta1: number;
    oneMinusAccBeta2: number;
  };
  const out = backend.makeOutput(value.shape.slice(), 'float32');
  const W = backend.typedArrayFromHeap(out);
  const X = backend.typedArrayFromHeap(value);
  const M = backend.typedArrayFromHeap(m);
  const V = backend.typedArrayFromHeap(v);
  const G = backend.typedArrayFromHeap(g);
  const fr = Math.fround;
  // The same float32 constants tfjs would build as scalar tensors.
  const b1 = fr(a.beta1),
    c1 = fr(1 - a.beta1),
    b2 = fr(a.beta2),
    c2 = fr(1 - a.beta2);
  const d1 = fr(a.oneMinusAccBeta1),
    d2 = fr(a.oneMinusAccBeta2),
    eps = fr(a.epsilon),
    nlr = fr(-a.lr);
  for (let i = 0, n = W.length; i < n; i++) {
    const gi = G[i];
    const mi = fr(fr(M[i] * b1) + fr(gi * c1));
    const vi = fr(fr(V[i] * b2) + fr(fr(gi * gi) * c2));
    M[i] = mi;
    V[i] = vi;
    const mh = fr(mi / d1);
    const vh = fr(vi / d2);
    W[i] = fr(fr(fr(mh / fr(fr(Math.sqrt(vh)) + eps)) * nlr) + X[i]);
  }
  return out;
}

function onWasm(): boolean {
  return tf.getBackend() === 'wasm';
}

const GRADIENTS: tf.GradConfig[] = [
  {
    // tfjs casts step(x) to float32 first, a copy on wasm.
    kernelName: tf.Relu,
    inputsToSave: ['x'],
    gradFunc: (dyT, saved) => {
      const dy = dyT as tf.Tensor;
      const [x] = saved;
      return {
        x: () =>
          maskedGradient(dy, x, 0, Infinity) ??
          (onWasm() && x.dtype === 'float32' ? tf.mul(dy, tf.step(x)) : tf.mul(dy, tf.cast(tf.step(x), 'float32'))),
      };
    },
  },
  {
    // 0 < x <= 6 as step(x) - step(x - 6): comparisons producing booleans are slow on wasm.
    kernelName: tf.Relu6,
    inputsToSave: ['x'],
    gradFunc: (dyT, saved) => {
      const dy = dyT as tf.Tensor;
      const [x] = saved;
      return {
        x: () =>
          maskedGradient(dy, x, 0, 6) ??
          (onWasm() && x.dtype === 'float32'
            ? tf.mul(dy, tf.sub(tf.step(x), tf.step(tf.sub(x, 6))))
            : tf.mul(dy, tf.cast(tf.mul(tf.lessEqual(x, 6), tf.step(x)), 'float32'))),
      };
    },
  },
  {
    // lo <= x <= hi as 1 - step(lo - x) - step(x - hi), for the same reason.
    kernelName: tf.ClipByValue,
    inputsToSave: ['x'],
    gradFunc: (dyT, saved, attrs) => {
      const dy = dyT as tf.Tensor;
      const [x] = saved;
      const { clipValueMin: lo, clipValueMax: hi } = attrs as unknown as tf.ClipByValueAttrs;
      return {
        x: () =>
          onWasm() && x.dtype === 'float32'
            ? tf.mul(dy, tf.sub(tf.sub(1, tf.step(tf.sub(lo, x))), tf.step(tf.sub(x, hi))))
            : tf.where(tf.logicalAnd(tf.greaterEqual(x, lo), tf.lessEqual(x, hi)), dy, tf.zerosLike(dy)),
      };
    },
  },
  {
    // Same derivatives as tfjs's own, but per-channel factors broadcast instead of being tiled
    // to the activation's shape, and shared sums are computed once.
    kernelName: tf.FusedBatchNorm,
    inputsToSave: ['x', 'mean', 'variance', 'scale'],
    gradFunc: (dyT, saved, attrs) => {
      const dy = dyT as tf.Tensor;
      const [x, mean, variance, scale] = saved;
      const { varianceEpsilon } = attrs as unknown as tf.FusedBatchNormAttrs;
      const axes = tf.backend_util.getReductionAxes(mean.shape, x.shape);
      const reduce = (t: tf.Tensor): tf.Tensor => tf.reshape(axes.length > 0 ? tf.sum(t, axes) : t, mean.shape);
      const invStd = tf.rsqrt(tf.add(variance, tf.scalar(varianceEpsilon)));
      const gain = scale == null ? invStd : tf.mul(scale, invStd);
      // Shared sums are computed here, not inside the closures: the tape runs each closure in its
      // own tidy, which would free a tensor cached by one before another could reuse it.
      const sumDy = reduce(dy);
      const sumDyXc = reduce(tf.mul(dy, tf.sub(x, mean)));
      return {
        x: () => tf.reshape(tf.mul(dy, gain), x.shape),
        mean: () => tf.neg(tf.mul(sumDy, tf.reshape(gain, mean.shape))),
        variance: () =>
          tf.mul(sumDyXc, tf.reshape(tf.mul(tf.mul(gain, tf.square(invStd)), tf.scalar(-0.5)), mean.shape)),
        scale: () => tf.mul(sumDyXc, tf.reshape(invStd, mean.shape)),
        offset: () => tf.clone(sumDy),
      };
    },
  },
];

let registered = false;

/**
 * Registers the JS heap kernels for 'wasm' and the gradient overrides (which dispatch on the
 * active backend when they run). Idempotent.
 */
export function registerTrainingSpeedups(): void {
  if (registered) return;
  registered = true;
  if (tf.getKernel(ADAM_STEP, 'wasm') == null)
    tf.registerKernel({ kernelName: ADAM_STEP, backendName: 'wasm', kernelFunc: adamStep as unknown as tf.KernelFunc });
  // registerGradient replaces tfjs's entry for the kernel; silence its one-line warning.
  const warn = console.warn;
  console.warn = (...a: unknown[]) => {
    if (typeof a[0] === 'string' && a[0].includes('Overriding the gradient')) return;
    warn(...a);
  };
  try {
    for (const g of GRADIENTS) tf.registerGradient(g);
  } finally {
    console.warn = warn;
  }
}

/** Above this many elements a variable takes tfjs's op-by-op update (measured crossover on wasm). */
const FUSED_ADAM_MAX_SIZE = 16384;

type Slot = { originalName: string; variable: tf.Variable };
interface AdamInternals {
  accumulatedFirstMoment: Slot[];
  accumulatedSecondMoment: Slot[];
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  beta1: number;
  beta2: number;
  epsilon: number;
  learningRate: number;
  incrementIterations(): void;
}

/**
 * tfjs's Adam, with the per-variable update fused into one kernel on wasm. State, weight names
 * and order (getWeights/setWeights) are tfjs's own, so checkpoints are interchangeable.
 */
export class FusedAdamOptimizer extends tf.AdamOptimizer {
  override applyGradients(variableGradients: Parameters<tf.AdamOptimizer['applyGradients']>[0]): void {
    if (!onWasm() || tf.getKernel(ADAM_STEP, 'wasm') == null) {
      super.applyGradients(variableGradients);
      return;
    }
    const self = this as unknown as AdamInternals;
    const list = Array.isArray(variableGradients)
      ? variableGradients.map((v) => ({ name: v.name, grad: v.tensor }))
      : Object.keys(variableGradients).map((name) => ({ name, grad: variableGradients[name] }));
    const oneMinusAccBeta1 = Math.fround(1 - self.accBeta1.dataSync()[0]);
    const oneMinusAccBeta2 = Math.fround(1 - self.accBeta2.dataSync()[0]);
    const attrs = {
      lr: self.learningRate,
      beta1: self.beta1,
      beta2: self.beta2,
      epsilon: self.epsilon,
      oneMinusAccBeta1,
      oneMinusAccBeta2,
    };
    // 1 − β^t as tensors, for the op-by-op path; made only when a large variable needs them.
    let bias: [tf.Tensor, tf.Tensor] | undefined;
    list.forEach(({ name, grad }, i) => {
      const value = tf.engine().registeredVariables[name];
      self.accumulatedFirstMoment[i] ??= {
        originalName: `${name}/m`,
        variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
      };
      self.accumulatedSecondMoment[i] ??= {
        originalName: `${name}/v`,
        variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
      };
      if (grad == null) return;
      const m = self.accumulatedFirstMoment[i].variable;
      const v = self.accumulatedSecondMoment[i].variable;
      if (value.size > FUSED_ADAM_MAX_SIZE) {
        // Large variables: wasm's SIMD element-wise ops beat one scalar JS loop (division and
        // square root per element); this is tfjs's own op sequence, so the bits are the same.
        bias ??= [tf.sub(1, self.accBeta1), tf.sub(1, self.accBeta2)];
        const [oneMinusAccBeta1T, oneMinusAccBeta2T] = bias;
        tf.tidy(() => {
          const m1 = tf.add(tf.mul(m, self.beta1), tf.mul(grad, 1 - self.beta1));
          const v1 = tf.add(tf.mul(v, self.beta2), tf.mul(tf.square(grad), 1 - self.beta2));
          const step = tf.div(
            tf.div(m1, oneMinusAccBeta1T),
            tf.add(tf.sqrt(tf.div(v1, oneMinusAccBeta2T)), self.epsilon),
          );
          m.assign(m1);
          v.assign(v1);
          value.assign(tf.add(tf.mul(step, -self.learningRate), value));
        });
        return;
      }
      const next = tf.engine().runKernel(ADAM_STEP, { value, m, v, g: grad }, attrs) as tf.Tensor;
      value.assign(next);
      next.dispose();
    });
    if (bias) tf.dispose(bias);
    tf.tidy(() => {
      self.accBeta1.assign(tf.mul(self.accBeta1, self.beta1));
      self.accBeta2.assign(tf.mul(self.accBeta2, self.beta2));
    });
    self.incrementIterations();
  }
}
