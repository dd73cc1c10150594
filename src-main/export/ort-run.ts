/**
 * Running an exported file in onnxruntime-node on engine images (NHWC float32 in [0, 1]),
 * converting to the file's input layout on the way in.
 */
import * as ort from 'onnxruntime-node';
import { nhwcToNchw } from './parity.ts';
import type { InputLayout } from './tfjs-to-onnx.ts';

export interface ImageDims {
  height: number;
  width: number;
  channels: number;
}

export function openSession(
  bytes: Uint8Array,
  opts: ort.InferenceSession.SessionOptions = {},
): Promise<ort.InferenceSession> {
  // Warnings only: ORT logs an informational line per session otherwise.
  return ort.InferenceSession.create(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
    logSeverityLevel: 3,
    ...opts,
  });
}

/** A feed tensor for `count` NHWC images in the given layout. */
export function imageTensor(images: Float32Array, count: number, dims: ImageDims, layout: InputLayout): ort.Tensor {
  const { height: h, width: w, channels: c } = dims;
  const data = images.subarray(0, count * h * w * c);
  if (layout === 'NCHW') return new ort.Tensor('float32', nhwcToNchw(data, count, h, w, c), [count, c, h, w]);
  return new ort.Tensor('float32', Float32Array.from(data), [count, h, w, c]);
}

/** The first output for every image, run in chunks of `batch` to bound memory. */
export async function runAll(
  session: ort.InferenceSession,
  images: Float32Array,
  count: number,
  dims: ImageDims,
  layout: InputLayout,
  batch = 256,
): Promise<Float32Array> {
  const per = dims.height * dims.width * dims.channels;
  let out: Float32Array | undefined;
  let width = 0;
  for (let start = 0; start < count; start += batch) {
    const n = Math.min(batch, count - start);
    const feeds = { [session.inputNames[0]]: imageTensor(images.subarray(start * per), n, dims, layout) };
    const result = await session.run(feeds);
    const values = result[session.outputNames[0]].data as Float32Array;
    width = values.length / n;
    out ??= new Float32Array(count * width);
    out.set(values, start * width);
  }
  return out ?? new Float32Array(0);
}
