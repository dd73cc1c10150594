import { createHash } from 'node:crypto';
import os from 'node:os';
import type { ImageSet } from './image-set.ts';

/**
 * A content hash of an image set: shape, pixel values and labels, but not `source` or class
 * names, so the same pixels loaded from a different path still match a cached teacher run.
 * Returns the full sha256 in hex.
 */
export function fingerprintImageSet(set: ImageSet): string {
  const hash = createHash('sha256');
  hash.update(`imageset/v1 ${set.count}x${set.height}x${set.width}x${set.channels}\n`);
  hash.update(littleEndianBytes(set.images.subarray(0, set.count * set.height * set.width * set.channels)));
  if (set.labels) {
    hash.update('labels\n');
    hash.update(littleEndianBytes(set.labels.subarray(0, set.count)));
  } else {
    hash.update('no-labels\n');
  }
  return hash.digest('hex');
}

/** The array's bytes in little-endian order, so a fingerprint is the same on any machine. */
function littleEndianBytes(arr: Float32Array | Int32Array): Uint8Array {
  const bytes = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
  if (os.endianness() === 'LE') return bytes;
  const swapped = new Uint8Array(bytes);
  for (let i = 0; i < swapped.length; i += 4) swapped.subarray(i, i + 4).reverse();
  return swapped;
}
