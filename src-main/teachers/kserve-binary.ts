/**
 * The binary tensor extension of the Open Inference Protocol v2 (docs/protocols.md): a JSON header,
 * then raw little-endian tensor bytes. The header's length travels in the
 * `Inference-Header-Content-Length` HTTP header; each tensor's `parameters.binary_data_size`
 * says how many of the following bytes are its own, in the order the tensors are listed.
 * Shared by the kserve-v2 adapter and the built-in teacher server.
 */
import { DistillError } from '../util/errors.ts';

export const HEADER_LENGTH = 'inference-header-content-length';

export class BinaryFramingError extends DistillError {
  override name = 'BinaryFramingError';
  readonly code = 'binary-framing';
}

/** Splits a body into its JSON header and the bytes after it. Without the header length the body is all JSON. */
export function splitBinaryBody(
  body: Buffer,
  headerLength: string | null | undefined,
): { json: unknown; rest: Buffer } {
  const len = headerLength == null ? body.length : Number(headerLength);
  if (!Number.isInteger(len) || len < 0 || len > body.length) {
    throw new BinaryFramingError(`${HEADER_LENGTH} is ${headerLength} but the body has ${body.length} bytes`);
  }
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8', 0, len));
  } catch (err) {
    throw new BinaryFramingError(`JSON header is not valid JSON: ${(err as Error).message}`);
  }
  return { json, rest: body.subarray(len) };
}

/**
 * Hands each tensor that declares `parameters.binary_data_size` its slice of `rest`, in order;
 * the sizes must account for every byte.
 */
export function sliceBinaryTensors<T extends { parameters?: Record<string, unknown> }>(
  tensors: T[],
  rest: Buffer,
): Map<T, Buffer> {
  const out = new Map<T, Buffer>();
  let o = 0;
  for (const t of tensors) {
    const size = t.parameters?.binary_data_size;
    if (size === undefined) continue;
    if (typeof size !== 'number' || !Number.isInteger(size) || size < 0 || o + size > rest.length) {
      throw new BinaryFramingError(`binary_data_size ${String(size)} does not fit the ${rest.length - o} bytes left`);
    }
    out.set(t, rest.subarray(o, o + size));
    o += size;
  }
  if (o !== rest.length) throw new BinaryFramingError(`${rest.length - o} binary byte(s) belong to no tensor`);
  return out;
}

/** JSON header plus binary chunks, and the value for the header-length HTTP header. */
export function joinBinaryBody(json: unknown, chunks: Uint8Array[]): { body: Buffer; headerLength: number } {
  const head = Buffer.from(JSON.stringify(json), 'utf8');
  return {
    body: Buffer.concat([head, ...chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength))]),
    headerLength: head.length,
  };
}

/** Float32 values as little-endian bytes (copied, so alignment and endianness are certain). */
export function float32Bytes(values: Float32Array): Buffer {
  const b = Buffer.alloc(values.length * 4);
  for (let i = 0; i < values.length; i++) b.writeFloatLE(values[i], i * 4);
  return b;
}
