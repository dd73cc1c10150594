import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { DataImportError } from './errors.ts';

/** One decoded picture: 8-bit, HWC, grey (1 channel) or RGB (3 channels); alpha is dropped. */
export interface DecodedImage {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Uint8Array;
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG_MAGIC = [0xff, 0xd8, 0xff];

function startsWith(bytes: Uint8Array, magic: number[]): boolean {
  return bytes.length >= magic.length && magic.every((b, i) => bytes[i] === b);
}

export function sniffImageFormat(bytes: Uint8Array): 'png' | 'jpeg' | undefined {
  if (startsWith(bytes, PNG_MAGIC)) return 'png';
  if (startsWith(bytes, JPEG_MAGIC)) return 'jpeg';
  return undefined;
}

/** Names formats people commonly drop into image folders, so the error can say what to convert. */
function guessOtherFormat(bytes: Uint8Array): string | undefined {
  const ascii = String.fromCharCode(...bytes.subarray(0, 12));
  if (ascii.startsWith('GIF8')) return 'GIF';
  if (ascii.startsWith('BM')) return 'BMP';
  if (ascii.startsWith('RIFF') && ascii.slice(8, 12) === 'WEBP') return 'WebP';
  if (ascii.startsWith('II*\0') || ascii.startsWith('MM\0*')) return 'TIFF';
  return undefined;
}

function firstBytesHex(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/** Decodes a PNG or JPEG, chosen by content rather than file extension. */
export function decodeImage(file: string, bytes: Uint8Array): DecodedImage {
  const format = sniffImageFormat(bytes);
  if (!format) {
    if (bytes.length === 0) throw new DataImportError(file, 'empty file, expected a PNG or JPEG');
    const other = guessOtherFormat(bytes);
    const hint = other ? `; looks like ${other}, convert it to PNG or JPEG` : '';
    throw new DataImportError(file, `not a PNG or JPEG (first bytes ${firstBytesHex(bytes)})${hint}`);
  }
  try {
    return format === 'png' ? decodePng(bytes) : decodeJpeg(bytes);
  } catch (err) {
    if (err instanceof DataImportError) throw err;
    throw new DataImportError(file, `cannot decode ${format === 'png' ? 'PNG' : 'JPEG'}: ${explain(err)}`, {
      cause: err,
    });
  }
}

/** pngjs reports running out of input in its own stream vocabulary; say what it means. */
function explain(err: unknown): string {
  const why = err instanceof Error ? err.message : String(err);
  return /read requests wait/i.test(why) ? `file is truncated (${why})` : why;
}

function decodePng(bytes: Uint8Array): DecodedImage {
  const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const { width, height } = png;
  // pngjs always hands back RGBA; the header's colour flag says whether G and B carry anything.
  const channels: 1 | 3 = png.color ? 3 : 1;
  return { width, height, channels, data: dropChannels(png.data, width * height, 4, channels) };
}

function decodeJpeg(bytes: Uint8Array): DecodedImage {
  const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false });
  const channels: 1 | 3 = jpegComponentCount(bytes) === 1 ? 1 : 3;
  return {
    width: img.width,
    height: img.height,
    channels,
    data: dropChannels(img.data, img.width * img.height, 3, channels),
  };
}

/** Keeps the first `keep` of every `stride` bytes. */
function dropChannels(src: Uint8Array, pixels: number, stride: number, keep: number): Uint8Array {
  if (keep === stride) return new Uint8Array(src.subarray(0, pixels * stride));
  const out = new Uint8Array(pixels * keep);
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < keep; c++) out[p * keep + c] = src[p * stride + c];
  }
  return out;
}

/**
 * jpeg-js always expands to RGB, so a greyscale JPEG is recognised from its frame header's
 * component count instead. Returns undefined if no frame header is found.
 */
export function jpegComponentCount(bytes: Uint8Array): number | undefined {
  let pos = 2;
  while (pos + 4 <= bytes.length) {
    if (bytes[pos] !== 0xff) return undefined;
    const marker = bytes[pos + 1];
    if (marker === 0xff) {
      pos += 1; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      pos += 2; // standalone markers carry no length
      continue;
    }
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame) return pos + 9 < bytes.length ? bytes[pos + 9] : undefined;
    if (marker === 0xda || marker === 0xd9) return undefined; // scan data or end before any frame
    pos += 2 + ((bytes[pos + 2] << 8) | bytes[pos + 3]);
  }
  return undefined;
}
