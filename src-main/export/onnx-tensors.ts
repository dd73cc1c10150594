/**
 * Reading and writing ONNX initializers as raw_data. The ONNX IR stores raw_data little-endian
 * whatever the host (onnx.proto: "raw_data ... stored in little-endian order"), so every access
 * goes through a DataView with the little-endian flag rather than a typed-array view.
 */
import { onnx, type OnnxTypes } from './onnx-proto.ts';
import { toHalfBits } from './float16.ts';

export const DataType = onnx.TensorProto.DataType;

function elementCount(dims: number[]): number {
  return dims.reduce((a, d) => a * d, 1);
}

function checkCount(name: string, length: number, dims: number[]): void {
  if (length !== elementCount(dims)) {
    throw new RangeError(`initializer ${name}: ${length} values do not fill shape [${dims.join(', ')}]`);
  }
}

/** The values of a FLOAT initializer, from raw_data or the float_data field. */
export function readFloatTensor(t: OnnxTypes.ITensorProto): Float32Array {
  if (t.dataType !== DataType.FLOAT)
    throw new TypeError(`initializer ${t.name} is not FLOAT (data type ${t.dataType})`);
  const count = elementCount((t.dims ?? []).map(Number));
  if (t.rawData && t.rawData.length) {
    const view = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
    return Float32Array.from({ length: count }, (_, i) => view.getFloat32(i * 4, true));
  }
  return Float32Array.from(t.floatData ?? []);
}

function raw(
  name: string,
  dims: number[],
  dataType: number,
  bytesPer: number,
  values: ArrayLike<number>,
  write: (view: DataView, offset: number, v: number) => void,
): OnnxTypes.ITensorProto {
  checkCount(name, values.length, dims);
  const rawData = new Uint8Array(values.length * bytesPer);
  const view = new DataView(rawData.buffer);
  for (let i = 0; i < values.length; i++) write(view, i * bytesPer, values[i]);
  return { name, dims, dataType, rawData };
}

export function floatTensor(name: string, values: ArrayLike<number>, dims: number[]): OnnxTypes.ITensorProto {
  return raw(name, dims, DataType.FLOAT, 4, values, (v, o, x) => v.setFloat32(o, x, true));
}

export function halfTensor(name: string, values: ArrayLike<number>, dims: number[]): OnnxTypes.ITensorProto {
  return raw(name, dims, DataType.FLOAT16, 2, values, (v, o, x) => v.setUint16(o, toHalfBits(x), true));
}

export function int8Tensor(name: string, values: ArrayLike<number>, dims: number[]): OnnxTypes.ITensorProto {
  return raw(name, dims, DataType.INT8, 1, values, (v, o, x) => v.setInt8(o, x));
}

export function uint8Tensor(name: string, values: ArrayLike<number>, dims: number[]): OnnxTypes.ITensorProto {
  return raw(name, dims, DataType.UINT8, 1, values, (v, o, x) => v.setUint8(o, x));
}

export function int32Tensor(name: string, values: ArrayLike<number>, dims: number[]): OnnxTypes.ITensorProto {
  return raw(name, dims, DataType.INT32, 4, values, (v, o, x) => v.setInt32(o, x, true));
}

export function tensorBytes(t: OnnxTypes.ITensorProto): number {
  return t.rawData?.length ?? 0;
}
