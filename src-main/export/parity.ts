/**
 * Checks an exported ONNX file against the tfjs model it came from, by running both
 * on the same inputs: onnxruntime-node for the file, tfjs in inference mode for the
 * model (predict never applies dropout and uses BN's moving statistics).
 */
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import type { InputLayout } from './tfjs-to-onnx.ts';

export interface ParityOptions {
  /** The layout the ONNX file was exported with; the NHWC sample is transposed to match. */
  inputLayout?: InputLayout;
  tolerance?: number;
}

export interface ParityResult {
  maxAbsDiff: number;
  ok: boolean;
  samples: number;
}

export function nhwcToNchw(data: Float32Array, n: number, h: number, w: number, c: number): Float32Array {
  const out = new Float32Array(n * c * h * w);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let ch = 0; ch < c; ch++) {
          out[((b * c + ch) * h + y) * w + x] = data[((b * h + y) * w + x) * c + ch];
        }
      }
    }
  }
  return out;
}

export async function checkOnnxParity(
  model: tf.LayersModel,
  bytes: Uint8Array,
  sample: Float32Array,
  n: number,
  opts: ParityOptions = {},
): Promise<ParityResult> {
  const tolerance = opts.tolerance ?? 1e-4;
  const layout = opts.inputLayout ?? 'NCHW';
  const dims = (model.inputs[0].shape as (number | null)[]).slice(1) as number[];
  const perSample = dims.reduce((a, d) => a * d, 1);
  if (!Number.isInteger(n) || n < 1) throw new Error(`checkOnnxParity: n must be a positive integer, got ${n}`);
  if (sample.length < n * perSample) {
    throw new Error(
      `checkOnnxParity: sample holds ${sample.length} values, ${n} inputs of [${dims.join(', ')}] need ${n * perSample}`,
    );
  }
  const nhwc = sample.subarray(0, n * perSample);

  const y = tf.tidy(() => model.predict(tf.tensor(nhwc, [n, ...dims])) as tf.Tensor);
  const expected = (await y.data()) as Float32Array;
  y.dispose();

  let feedData = nhwc;
  let feedDims = [n, ...dims];
  if (dims.length === 3 && layout === 'NCHW') {
    const [h, w, c] = dims;
    feedData = nhwcToNchw(nhwc, n, h, w, c);
    feedDims = [n, c, h, w];
  }
  // onnxruntime copies the model bytes, so the session can outlive `bytes`.
  const session = await ort.InferenceSession.create(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  try {
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', Float32Array.from(feedData), feedDims) };
    const result = await session.run(feeds);
    const actual = result[session.outputNames[0]].data as Float32Array;
    if (actual.length !== expected.length) {
      throw new Error(`checkOnnxParity: ONNX output has ${actual.length} values, tfjs ${expected.length}`);
    }
    let maxAbsDiff = 0;
    for (let i = 0; i < actual.length; i++) {
      const d = Math.abs(actual[i] - expected[i]);
      // NaN must fail the check, and Math.max would let it through as NaN.
      if (!(d <= maxAbsDiff)) maxAbsDiff = Number.isNaN(d) ? Infinity : d;
    }
    return { maxAbsDiff, ok: maxAbsDiff <= tolerance, samples: n };
  } finally {
    await session.release();
  }
}
