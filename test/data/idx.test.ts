import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { after, describe, it } from 'node:test';
import { findIdxPair, loadIdxImages, readIdx } from '../../src-main/data/idx.ts';
import { idxBytes, makeTempDir, removeDir, throwsImportError, writeFile, writeIdx } from './fixtures.ts';

const dir = makeTempDir('idx');
after(() => removeDir(dir));

const COUNT = 3;
const H = 4;
const W = 5;
const pixels = Array.from({ length: COUNT * H * W }, (_, i) => (i * 37) % 256);
const labelValues = [2, 0, 1];

describe('readIdx / loadIdxImages', () => {
  for (const gzip of [false, true]) {
    it(`round-trips a ${gzip ? 'gzipped' : 'raw'} image/label pair`, () => {
      const tag = gzip ? 'gz' : 'raw';
      const images = writeIdx(path.join(dir, tag, 'images'), [COUNT, H, W], pixels, gzip);
      const labels = writeIdx(path.join(dir, tag, 'labels'), [COUNT], labelValues, gzip);
      const set = loadIdxImages(images, labels);
      assert.deepEqual([set.count, set.height, set.width, set.channels], [COUNT, H, W, 1]);
      assert.equal(set.images.length, pixels.length);
      pixels.forEach((v, i) => assert.ok(Math.abs(set.images[i] - v / 255) < 1e-7));
      assert.deepEqual(Array.from(set.labels!), labelValues);
      assert.equal(set.source, images);
    });
  }

  it('detects gzip by content, not by name', () => {
    const rawNamedGz = writeIdx(path.join(dir, 'names', 'raw.gz'), [COUNT, H, W], pixels, false);
    const gzNamedRaw = writeIdx(path.join(dir, 'names', 'packed.idx'), [COUNT, H, W], pixels, true);
    assert.deepEqual(readIdx(rawNamedGz).data, readIdx(gzNamedRaw).data);
  });

  it('reads wider big-endian types', () => {
    const header = Buffer.from([0, 0, 0x0c, 1, 0, 0, 0, 2]);
    const body = Buffer.alloc(8);
    body.writeInt32BE(-5, 0);
    body.writeInt32BE(70000, 4);
    const file = writeFile(path.join(dir, 'int32.idx'), Buffer.concat([header, body]));
    const arr = readIdx(file);
    assert.equal(arr.dtype, 'int32');
    assert.deepEqual(arr.dims, [2]);
    assert.deepEqual(Array.from(arr.data), [-5, 70000]);
  });

  it('loads images without labels', () => {
    const images = writeIdx(path.join(dir, 'nolabels', 'images'), [COUNT, H, W], pixels);
    assert.equal(loadIdxImages(images).labels, undefined);
  });

  it('rejects a labels file given as the images file', () => {
    const labels = writeIdx(path.join(dir, 'swap', 'labels'), [COUNT], labelValues);
    throwsImportError(
      () => loadIdxImages(labels),
      labels,
      /bad magic 0x00000801, expected an IDX image file \(0x00000803\)/,
    );
  });

  it('rejects a file that is not IDX at all', () => {
    const file = writeFile(path.join(dir, 'bad', 'notes.txt'), 'hello world, not idx');
    throwsImportError(() => readIdx(file), file, /bad magic 0x68656c6c/);
  });

  it('rejects truncated data with the sizes involved', () => {
    const full = idxBytes([COUNT, H, W], pixels);
    const file = writeFile(path.join(dir, 'trunc', 'images'), full.subarray(0, full.length - 10));
    throwsImportError(() => readIdx(file), file, /truncated: header says 3×4×5 = 60 bytes, file has 50/);
  });

  it('rejects trailing bytes', () => {
    const file = writeFile(
      path.join(dir, 'trail', 'images'),
      Buffer.concat([idxBytes([COUNT, H, W], pixels), Buffer.alloc(3)]),
    );
    throwsImportError(() => readIdx(file), file, /3 trailing bytes: header says 3×4×5 = 60 bytes, file has 63/);
  });

  it('rejects a truncated gzip stream', () => {
    const packed = zlib.gzipSync(idxBytes([COUNT, H, W], pixels));
    const file = writeFile(path.join(dir, 'gztrunc', 'images.gz'), packed.subarray(0, packed.length - 12));
    throwsImportError(() => readIdx(file), file, /gzip data is corrupt or truncated/);
  });

  it('rejects a label count that differs from the image count', () => {
    const images = writeIdx(path.join(dir, 'mismatch', 'images'), [COUNT, H, W], pixels);
    const labels = writeIdx(path.join(dir, 'mismatch', 'labels'), [COUNT - 1], labelValues.slice(1));
    throwsImportError(
      () => loadIdxImages(images, labels),
      labels,
      /labels file has 2 items but images file images has 3/,
    );
  });

  it('rejects labels beyond the known class names', () => {
    const images = writeIdx(path.join(dir, 'names-range', 'images'), [COUNT, H, W], pixels);
    const labels = writeIdx(path.join(dir, 'names-range', 'labels'), [COUNT], labelValues);
    throwsImportError(
      () => loadIdxImages(images, labels, ['a', 'b']),
      labels,
      /item 0 has label 2 but only 2 class names/,
    );
  });

  it('names a missing file', () => {
    const file = path.join(dir, 'absent');
    throwsImportError(() => readIdx(file), file, /file not found/);
  });
});

describe('findIdxPair', () => {
  const folder = path.join(dir, 'pair');
  writeIdx(path.join(folder, 'train-images-idx3-ubyte.gz'), [COUNT, H, W], pixels, true);
  writeIdx(path.join(folder, 'train-labels-idx1-ubyte.gz'), [COUNT], labelValues, true);
  writeIdx(path.join(folder, 't10k-images.idx3-ubyte'), [COUNT, H, W], pixels);

  it('finds the standard gzipped names', () => {
    assert.deepEqual(findIdxPair(folder, 'train'), {
      images: path.join(folder, 'train-images-idx3-ubyte.gz'),
      labels: path.join(folder, 'train-labels-idx1-ubyte.gz'),
    });
  });

  it('finds the dotted variant and reports missing labels as absent', () => {
    assert.deepEqual(findIdxPair(folder, 'test'), { images: path.join(folder, 't10k-images.idx3-ubyte') });
  });

  it('errors when no images file is there', () => {
    const empty = path.join(dir, 'pair-empty');
    fs.mkdirSync(empty);
    throwsImportError(
      () => findIdxPair(empty, 'train'),
      empty,
      /no train images file found \(looked for train-images-idx3-ubyte.gz/,
    );
  });
});
