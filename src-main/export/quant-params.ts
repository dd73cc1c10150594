/**
 * The arithmetic of static quantization, per the ONNX QuantizeLinear/DequantizeLinear specs:
 * q = saturate(round(x / scale) + zero_point) with round-half-to-even, x' = (q - zero_point) * scale.
 *
 * ONNX Runtime's quantization guide recommends U8S8 on x86 CPUs: activations uint8 asymmetric,
 * weights int8 symmetric (zero point 0) per output channel. Bias is int32 with
 * scale = input_scale * weight_scale[c] and zero point 0, the form QLinearConv and QGemm take, so
 * the runtime can add it straight into the int32 accumulator.
 */

export interface TensorRange {
  min: number;
  max: number;
}

export interface ActivationParams {
  scale: number;
  /** uint8 */
  zeroPoint: number;
}

/** Round half to even, as QuantizeLinear specifies. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * uint8 asymmetric parameters covering `range`, widened to include 0 so that zero (padding, ReLU's
 * floor) is exactly representable, which the QLinearConv padding semantics rely on.
 */
export function activationParams(range: TensorRange): ActivationParams {
  if (!Number.isFinite(range.min) || !Number.isFinite(range.max) || range.min > range.max) {
    throw new RangeError(`calibration range [${range.min}, ${range.max}] is not a finite interval`);
  }
  const lo = Math.min(range.min, 0);
  const hi = Math.max(range.max, 0);
  if (hi === lo) return { scale: 1, zeroPoint: 0 }; // a tensor that is always 0
  const scale = Math.fround((hi - lo) / 255);
  const zeroPoint = Math.min(255, Math.max(0, roundHalfEven(-lo / scale)));
  return { scale, zeroPoint };
}

export interface PerChannelWeights {
  /** int8 in [-127, 127]; -128 is left unused so the range is symmetric. */
  values: Int8Array;
  /** One scale per channel of axis 0. */
  scales: Float32Array;
}

/** Symmetric int8 per channel of axis 0 of a row-major tensor with `channels` rows. */
export function quantizeWeightsPerChannel(data: Float32Array, channels: number): PerChannelWeights {
  if (channels < 1 || data.length % channels !== 0) {
    throw new RangeError(`${data.length} weights cannot be split into ${channels} channels`);
  }
  const per = data.length / channels;
  const values = new Int8Array(data.length);
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    let absMax = 0;
    for (let i = 0; i < per; i++) absMax = Math.max(absMax, Math.abs(data[c * per + i]));
    const scale = absMax > 0 ? Math.fround(absMax / 127) : 1;
    scales[c] = scale;
    for (let i = 0; i < per; i++) {
      values[c * per + i] = Math.max(-127, Math.min(127, roundHalfEven(data[c * per + i] / scale)));
    }
  }
  return { values, scales };
}

export interface QuantizedBias {
  values: Int32Array;
  scales: Float32Array;
}

const INT32_MAX = 2 ** 31 - 1;

export function quantizeBias(bias: Float32Array, inputScale: number, weightScales: Float32Array): QuantizedBias {
  if (bias.length !== weightScales.length) {
    throw new RangeError(`bias has ${bias.length} values for ${weightScales.length} weight channels`);
  }
  const scales = weightScales.map((w) => Math.fround(inputScale * w));
  const values = new Int32Array(bias.length);
  for (let c = 0; c < bias.length; c++) {
    values[c] = Math.max(-INT32_MAX, Math.min(INT32_MAX, roundHalfEven(bias[c] / scales[c])));
  }
  return { values, scales };
}
