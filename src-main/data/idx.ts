import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { DataImportError } from './errors.ts';
import type { ImageSet } from './image-set.ts';
import { readFileOrThrow } from './read-file.ts';

/**
 * IDX is the container MNIST and Fashion-MNIST ship in: two zero bytes, a type code, a
 * dimension count, big-endian uint32 dimensions, then the values big-endian in C order.
 */

export type IdxDtype = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxArray {
  dims: number[];
  dtype: IdxDtype;
  data: IdxData;
  /** The four header bytes as one number, e.g. 0x00000803 for a uint8 3-d array. */
  magic: number;
}

interface DtypeInfo {
  dtype: IdxDtype;
  bytes: number;
}

const DTYPES: Record<number, DtypeInfo> = {
  0x08: { dtype: 'uint8', bytes: 1 },
  0x09: { dtype: 'int8', bytes: 1 },
  0x0b: { dtype: 'int16', bytes: 2 },
  0x0c: { dtype: 'int32', bytes: 4 },
  0x0d: { dtype: 'float32', bytes: 4 },
  0x0e: { dtype: 'float64', bytes: 8 },
};

const IMAGES_MAGIC = 0x00000803;
const LABELS_MAGIC = 0x00000801;

export function hex32(n: number): string {
  return '0x' + (n >>> 0).toString(16).padStart(8, '0');
}

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** The file's bytes, inflated when they are gzip (judged by content, since names lie). */
function readMaybeGzip(file: string): Buffer {
  const raw = readFileOrThrow(file);
  if (!isGzip(raw)) return raw;
  try {
    return zlib.gunzipSync(raw);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new DataImportError(file, `gzip data is corrupt or truncated (${why})`, { cause: err });
  }
}

/** Parses an IDX file, raw or gzipped, checking the header against the exact payload length. */
export function readIdx(file: string): IdxArray {
  const bytes = readMaybeGzip(file);
  if (bytes.length < 4) {
    throw new DataImportError(file, `too short to be an IDX file (${bytes.length} bytes)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  const typeCode = bytes[2];
  const ndims = bytes[3];
  const info = DTYPES[typeCode];
  if (bytes[0] !== 0 || bytes[1] !== 0 || !info) {
    throw new DataImportError(
      file,
      `bad magic ${hex32(magic)}, expected an IDX file (0x000008NN for uint8 data, type codes 08 09 0B 0C 0D 0E)`,
    );
  }
  if (ndims === 0) throw new DataImportError(file, `bad magic ${hex32(magic)}: IDX header declares 0 dimensions`);
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) {
    throw new DataImportError(
      file,
      `truncated: header declares ${ndims} dimensions (${headerBytes} header bytes), file has ${bytes.length}`,
    );
  }
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  const expected = count * info.bytes;
  const actual = bytes.length - headerBytes;
  if (actual !== expected) {
    const shape = dims.join('×') + (info.bytes > 1 ? ` × ${info.bytes}-byte ${info.dtype}` : '');
    const problem = actual < expected ? 'truncated' : `${actual - expected} trailing bytes`;
    throw new DataImportError(file, `${problem}: header says ${shape} = ${expected} bytes, file has ${actual}`);
  }
  return { dims, dtype: info.dtype, data: decodeValues(view, headerBytes, count, info.dtype), magic };
}

function decodeValues(view: DataView, offset: number, count: number, dtype: IdxDtype): IdxData {
  switch (dtype) {
    case 'uint8':
      // Copy so the result does not pin the (possibly much larger) decompression buffer.
      return new Uint8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + count));
    case 'int8':
      return new Int8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + count));
    case 'int16': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(offset + 2 * i, false);
      return out;
    }
    case 'int32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + 4 * i, false);
      return out;
    }
    case 'float32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, false);
      return out;
    }
    case 'float64': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i, false);
      return out;
    }
  }
}

/**
 * Loads an IDX image file (uint8, count×height×width, or count×height×width×channels with 1 or 3
 * channels) and optionally its labels file, scaling pixels to [0, 1].
 */
export function loadIdxImages(imagesPath: string, labelsPath?: string, classNames?: string[]): ImageSet {
  const img = readIdx(imagesPath);
  const channelsOk = img.dims.length === 4 && (img.dims[3] === 1 || img.dims[3] === 3);
  if (img.dtype !== 'uint8' || (img.dims.length !== 3 && !channelsOk)) {
    throw new DataImportError(
      imagesPath,
      `bad magic ${hex32(img.magic)}, expected an IDX image file (${hex32(IMAGES_MAGIC)})` +
        (img.magic === LABELS_MAGIC ? '; this looks like a labels file' : ''),
    );
  }
  const [count, height, width] = img.dims;
  const channels = img.dims.length === 4 ? img.dims[3] : 1;
  if (count === 0) throw new DataImportError(imagesPath, 'contains no images');
  if (height === 0 || width === 0)
    throw new DataImportError(imagesPath, `images are ${height}×${width}, expected a non-empty size`);

  const pixels = img.data as Uint8Array;
  const images = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) images[i] = pixels[i] / 255;

  let labels: Int32Array | undefined;
  if (labelsPath !== undefined) {
    labels = loadIdxLabels(labelsPath, count, imagesPath);
    if (classNames) {
      const bad = labels.findIndex((l) => l >= classNames.length);
      if (bad >= 0) {
        throw new DataImportError(
          labelsPath,
          `item ${bad} has label ${labels[bad]} but only ${classNames.length} class names are known`,
        );
      }
    }
  }
  return { images, labels, count, height, width, channels, classNames, source: imagesPath };
}

function loadIdxLabels(labelsPath: string, imageCount: number, imagesPath: string): Int32Array {
  const lab = readIdx(labelsPath);
  if (lab.dtype !== 'uint8' || lab.dims.length !== 1) {
    throw new DataImportError(
      labelsPath,
      `bad magic ${hex32(lab.magic)}, expected an IDX labels file (${hex32(LABELS_MAGIC)})` +
        (lab.magic === IMAGES_MAGIC ? '; this looks like an images file' : ''),
    );
  }
  if (lab.dims[0] !== imageCount) {
    throw new DataImportError(
      labelsPath,
      `labels file has ${lab.dims[0]} items but images file ${path.basename(imagesPath)} has ${imageCount}`,
    );
  }
  return Int32Array.from(lab.data as Uint8Array);
}

export interface IdxPair {
  images: string;
  /** Absent when the folder has images but no matching labels file. */
  labels?: string;
}

const SPLIT_PREFIXES: Record<'train' | 'test', string[]> = {
  train: ['train'],
  test: ['t10k', 'test'],
};

/** Both spellings seen in the wild: the original `-idx3-ubyte` and the Windows-friendly `.idx3-ubyte`. */
function candidateNames(prefix: string, kind: 'images' | 'labels'): string[] {
  const nd = kind === 'images' ? 3 : 1;
  const bases = [`${prefix}-${kind}-idx${nd}-ubyte`, `${prefix}-${kind}.idx${nd}-ubyte`];
  return bases.flatMap((b) => [b + '.gz', b]);
}

function firstExisting(dir: string, names: string[]): string | undefined {
  for (const name of names) {
    const full = path.join(dir, name);
    if (fs.existsSync(full) && fs.statSync(full).isFile()) return full;
  }
  return undefined;
}

/** Like findIdxPair, but undefined instead of an error when the images file is missing. */
export function tryFindIdxPair(dir: string, split: 'train' | 'test'): IdxPair | undefined {
  for (const prefix of SPLIT_PREFIXES[split]) {
    const images = firstExisting(dir, candidateNames(prefix, 'images'));
    if (!images) continue;
    const labels = firstExisting(dir, candidateNames(prefix, 'labels'));
    return labels ? { images, labels } : { images };
  }
  return undefined;
}

/** Locates the MNIST-style images and labels files for a split in a folder. */
export function findIdxPair(dir: string, split: 'train' | 'test'): IdxPair {
  if (!fs.existsSync(dir)) throw new DataImportError(dir, 'folder not found');
  const pair = tryFindIdxPair(dir, split);
  if (!pair) {
    const looked = SPLIT_PREFIXES[split].flatMap((p) => candidateNames(p, 'images'));
    throw new DataImportError(dir, `no ${split} images file found (looked for ${looked.join(', ')})`);
  }
  return pair;
}
