import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { DataImportError } from '../../src-main/data/errors.ts';

/** A fresh temp folder; the caller removes it with `removeDir` in an `after` hook. */
export function makeTempDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `distill-data-${tag}-`));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** IDX bytes for a uint8 array with the given dims (magic 0x0000 08 ndims). */
export function idxBytes(dims: number[], values: ArrayLike<number>, typeCode = 0x08): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = typeCode;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(Uint8Array.from(values))]);
}

export function writeIdx(file: string, dims: number[], values: ArrayLike<number>, gzip = false): string {
  const bytes = idxBytes(dims, values);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, gzip ? zlib.gzipSync(bytes) : bytes);
  return file;
}

/** A PNG of the given size; `pixel(x, y)` gives [r, g, b] (grey when r = g = b and gray is set). */
export function pngBytes(
  width: number,
  height: number,
  pixel: (x: number, y: number) => [number, number, number],
  gray = false,
): Buffer {
  const png = new PNG({ width, height, colorType: gray ? 0 : 2, inputColorType: 6, inputHasAlpha: true });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = pixel(x, y);
      const o = (y * width + x) * 4;
      png.data[o] = r;
      png.data[o + 1] = g;
      png.data[o + 2] = b;
      png.data[o + 3] = 255;
    }
  }
  return PNG.sync.write(png, { colorType: gray ? 0 : 2, inputColorType: 6, inputHasAlpha: true });
}

export function jpegBytes(width: number, height: number, rgb: [number, number, number]): Buffer {
  const data = Buffer.alloc(width * height * 4);
  for (let p = 0; p < width * height; p++) data.set([...rgb, 255], p * 4);
  return jpeg.encode({ width, height, data }, 95).data;
}

export function writeFile(file: string, bytes: Uint8Array | string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, bytes);
  return file;
}

/** Asserts that `fn` throws a DataImportError about `file` whose message matches `pattern`. */
export function throwsImportError(fn: () => unknown, file: string, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof DataImportError, `expected DataImportError, got ${String(err)}`);
    assert.equal(err.file, file);
    assert.ok(err.message.startsWith(file + ': '), `message should start with the path: ${err.message}`);
    assert.match(err.message, pattern);
    return true;
  });
}
