/**
 * Static-quantization calibration: the value range of every activation, observed by running the
 * float32 graph in ONNX Runtime on the user's own images with every intermediate tensor exposed as
 * an extra graph output. Min/max (rather than a percentile) because the students are small, their
 * activations are post-ReLU/ReLU6 and bounded, and min/max never clips a value seen in calibration.
 */
import { onnx, type OnnxTypes } from './onnx-proto.ts';
import { openSession, imageTensor, type ImageDims } from './ort-run.ts';
import type { InputLayout } from './tfjs-to-onnx.ts';
import type { TensorRange } from './quant-params.ts';
import { CalibrationError } from './errors.ts';

export interface CalibrationOptions {
  layout: InputLayout;
  /** Images per ORT run. Default 64. */
  batch?: number;
}

export async function calibrateRanges(
  model: OnnxTypes.IModelProto,
  images: Float32Array,
  count: number,
  dims: ImageDims,
  opts: CalibrationOptions,
): Promise<Map<string, TensorRange>> {
  if (count < 1) throw new CalibrationError('no calibration images');
  const graph = model.graph ?? {};
  const inputName = graph.input?.[0]?.name ?? '';
  const exposed = [...new Set((graph.node ?? []).flatMap((n) => n.output ?? []))].filter(
    (name) => !(graph.output ?? []).some((o) => o.name === name),
  );
  // A graph output needs a type but not a shape (onnx.proto ValueInfoProto); ORT infers the rest.
  const probe: OnnxTypes.IModelProto = {
    ...model,
    graph: {
      ...graph,
      output: [
        ...(graph.output ?? []),
        ...exposed.map((name) => ({ name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } } })),
      ],
    },
  };
  const session = await openSession(onnx.ModelProto.encode(probe).finish());
  const ranges = new Map<string, TensorRange>();
  const widen = (name: string, data: ArrayLike<number>): void => {
    let { min, max } = ranges.get(name) ?? { min: Infinity, max: -Infinity };
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    ranges.set(name, { min, max });
  };
  try {
    const per = dims.height * dims.width * dims.channels;
    const batch = opts.batch ?? 64;
    for (let start = 0; start < count; start += batch) {
      const n = Math.min(batch, count - start);
      const slice = images.subarray(start * per, (start + n) * per);
      widen(inputName, slice);
      const result = await session.run({ [inputName]: imageTensor(slice, n, dims, opts.layout) });
      for (const name of session.outputNames) widen(name, result[name].data as Float32Array);
    }
  } finally {
    await session.release();
  }
  for (const [name, r] of ranges) {
    if (!Number.isFinite(r.min) || !Number.isFinite(r.max)) {
      throw new CalibrationError(`tensor "${name}" took non-finite values on the calibration images`);
    }
  }
  return ranges;
}
