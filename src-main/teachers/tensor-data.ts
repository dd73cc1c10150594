/**
 * Numbers out of protocol tensors: nested or flat `data` arrays (OIP v2 allows both), and raw
 * little-endian bytes of the binary tensor extension, for the datatypes a classifier returns.
 */
import { TeacherMalformedReplyError } from './errors.ts';

export type NumericDatatype = 'FP32' | 'FP16' | 'FP64' | 'INT64' | 'INT32' | 'INT16' | 'INT8' | 'UINT8';

export const BYTES_PER_ELEMENT: Record<NumericDatatype, number> = {
  FP32: 4,
  FP16: 2,
  FP64: 8,
  INT64: 8,
  INT32: 4,
  INT16: 2,
  INT8: 1,
  UINT8: 1,
};

/** Row-major flattening of a nested array; leaves must be numbers (or null, read as NaN). */
export function flattenNumbers(data: unknown, what: string): number[] {
  const out: number[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) for (const x of v) walk(x);
    else if (typeof v === 'number') out.push(v);
    else if (v === null) out.push(NaN);
    else throw new TeacherMalformedReplyError(`${what}: expected numbers, found ${JSON.stringify(v)?.slice(0, 40)}`);
  };
  walk(data);
  return out;
}

/** Leaves of a nested array of anything, row-major. */
export function flattenAny(data: unknown): unknown[] {
  return Array.isArray(data) ? data.flatMap((x) => flattenAny(x)) : [data];
}

/** IEEE 754 half precision to a JS number. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/** Decodes little-endian raw tensor bytes into numbers. */
export function decodeRaw(bytes: Uint8Array, datatype: NumericDatatype, what: string): Float64Array {
  const size = BYTES_PER_ELEMENT[datatype];
  if (bytes.length % size)
    throw new TeacherMalformedReplyError(`${what}: ${bytes.length} bytes is not a whole number of ${datatype} values`);
  const n = bytes.length / size;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * size;
    switch (datatype) {
      case 'FP32':
        out[i] = view.getFloat32(o, true);
        break;
      case 'FP16':
        out[i] = halfToFloat(view.getUint16(o, true));
        break;
      case 'FP64':
        out[i] = view.getFloat64(o, true);
        break;
      case 'INT64':
        out[i] = Number(view.getBigInt64(o, true));
        break;
      case 'INT32':
        out[i] = view.getInt32(o, true);
        break;
      case 'INT16':
        out[i] = view.getInt16(o, true);
        break;
      case 'INT8':
        out[i] = view.getInt8(o);
        break;
      case 'UINT8':
        out[i] = view.getUint8(o);
        break;
    }
  }
  return out;
}

/** In JSON, FP16 values travel as ordinary numbers; only the binary form needs decoding. */
export function isNumericDatatype(d: string): d is NumericDatatype {
  return d in BYTES_PER_ELEMENT;
}

/** A JS number to IEEE 754 half precision (round to nearest even), for FP16 replies. */
export function floatToHalf(v: number): number {
  const f32 = new Float32Array([v]);
  const x = new Uint32Array(f32.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  e = half >> 10;
  return sign | half;
}
