import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { jpegComponentCount } from '../../src-main/data/decode-image.ts';
import { loadImageFolder } from '../../src-main/data/image-folder.ts';
import { jpegBytes, makeTempDir, pngBytes, removeDir, throwsImportError, writeFile } from './fixtures.ts';

const dir = makeTempDir('folder');
after(() => removeDir(dir));

const gray = (v: number) => pngBytes(4, 3, () => [v, v, v], true);
const red = pngBytes(4, 3, () => [255, 0, 0]);

describe('loadImageFolder with class sub-folders', () => {
  const root = path.join(dir, 'classes');
  writeFile(path.join(root, 'dog', 'b.png'), gray(200));
  writeFile(path.join(root, 'dog', 'a.png'), gray(100));
  writeFile(path.join(root, 'cat', '001.png'), gray(50));
  writeFile(path.join(root, 'cat', 'README'), 'not an image, skipped');
  writeFile(path.join(root, 'cat', '.DS_Store'), 'junk');

  it('labels by sorted folder name and orders by sorted path', () => {
    const set = loadImageFolder(root);
    assert.deepEqual(set.classNames, ['cat', 'dog']);
    assert.deepEqual(Array.from(set.labels!), [0, 1, 1]);
    assert.deepEqual([set.count, set.height, set.width, set.channels], [3, 3, 4, 1]);
    const first = (i: number) => set.images[i * 12];
    assert.deepEqual(
      [first(0), first(1), first(2)].map((v) => Math.round(v * 255)),
      [50, 100, 200],
    );
  });

  it('uses three channels when any image has colour', () => {
    const mixed = path.join(dir, 'mixed');
    writeFile(path.join(mixed, 'a', 'g.png'), gray(128));
    writeFile(path.join(mixed, 'b', 'r.png'), red);
    const set = loadImageFolder(mixed);
    assert.equal(set.channels, 3);
    const px = (i: number) => Array.from(set.images.subarray(i * 36, i * 36 + 3), (v) => Math.round(v * 255));
    assert.deepEqual(px(0), [128, 128, 128]);
    assert.deepEqual(px(1), [255, 0, 0]);

    const luma = loadImageFolder(mixed, { grayscale: true });
    assert.equal(luma.channels, 1);
    assert.equal(Math.round(luma.images[12] * 255), Math.round(0.299 * 255));
  });

  it('rejects labelled: true on a flat folder, and loose images beside class folders', () => {
    const flat = path.join(dir, 'flat-only');
    writeFile(path.join(flat, 'x.png'), gray(1));
    throwsImportError(() => loadImageFolder(flat, { labelled: true }), flat, /one sub-folder per class/);
    const both = path.join(dir, 'both');
    writeFile(path.join(both, 'loose.png'), gray(1));
    writeFile(path.join(both, 'k', 'in.png'), gray(1));
    throwsImportError(() => loadImageFolder(both), both, /loose images \(loose.png\)/);
    assert.equal(loadImageFolder(both, { labelled: false }).count, 2);
  });
});

describe('loadImageFolder with a flat folder', () => {
  it('loads unlabelled images', () => {
    const flat = path.join(dir, 'flat');
    writeFile(path.join(flat, '2.png'), red);
    writeFile(path.join(flat, '1.png'), red);
    writeFile(path.join(flat, 'notes.txt'), 'skipped');
    const set = loadImageFolder(flat);
    assert.equal(set.count, 2);
    assert.equal(set.labels, undefined);
    assert.equal(set.classNames, undefined);
    assert.equal(set.channels, 3);
  });

  it('decodes a JPEG to plausible pixel values', () => {
    const jp = path.join(dir, 'jpeg');
    writeFile(path.join(jp, 'photo.jpg'), jpegBytes(16, 16, [200, 40, 90]));
    const set = loadImageFolder(jp);
    assert.deepEqual([set.count, set.height, set.width, set.channels], [1, 16, 16, 3]);
    const mid = (8 * 16 + 8) * 3;
    const rgb = Array.from(set.images.subarray(mid, mid + 3), (v) => v * 255);
    [200, 40, 90].forEach((want, c) => assert.ok(Math.abs(rgb[c] - want) < 8, `channel ${c}: ${rgb[c]} vs ${want}`));
  });

  it('reads the JPEG frame header to tell grey from colour', () => {
    assert.equal(jpegComponentCount(jpegBytes(4, 4, [1, 2, 3])), 3);
    // SOI, an APP0 stub, then a baseline frame header declaring one component.
    const grey = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0, 4, 0, 0, 0xff, 0xc0, 0, 11, 8, 0, 4, 0, 4, 1, 1, 0x11, 0]);
    assert.equal(jpegComponentCount(grey), 1);
  });

  it('resizes when a size is given', () => {
    const sized = path.join(dir, 'sized');
    writeFile(path.join(sized, 'small.png'), gray(60));
    writeFile(
      path.join(sized, 'big.png'),
      pngBytes(8, 6, () => [60, 60, 60], true),
    );
    const set = loadImageFolder(sized, { size: [5, 5] });
    assert.deepEqual([set.count, set.height, set.width, set.channels], [2, 5, 5, 1]);
    for (const v of set.images) assert.ok(Math.abs(v - 60 / 255) < 1e-6);
  });
});

describe('loadImageFolder errors', () => {
  it('names a corrupt .png', () => {
    const bad = path.join(dir, 'corrupt');
    writeFile(path.join(bad, 'cat', 'ok.png'), gray(9));
    const file = writeFile(path.join(bad, 'cat', '003.png'), Buffer.from('GIF89a-not-really'));
    throwsImportError(
      () => loadImageFolder(bad),
      file,
      /not a PNG or JPEG \(first bytes 47 49 46 38 39 61 2d 6e\); looks like GIF/,
    );
  });

  it('names a truncated PNG', () => {
    const bad = path.join(dir, 'truncated-png');
    const bytes = pngBytes(10, 10, (x, y) => [x * 20, y * 20, 0]);
    const file = writeFile(path.join(bad, 't.png'), bytes.subarray(0, 40));
    throwsImportError(() => loadImageFolder(bad), file, /cannot decode PNG: file is truncated/);
  });

  it('names an image whose size differs from the first', () => {
    const bad = path.join(dir, 'sizes');
    writeFile(path.join(bad, 'a.png'), gray(1));
    const file = writeFile(
      path.join(bad, 'img.png'),
      pngBytes(6, 6, () => [0, 0, 0], true),
    );
    throwsImportError(
      () => loadImageFolder(bad),
      file,
      /is 6×6 \(height×width\) but the folder's first image a.png is 3×4/,
    );
  });

  it('reports an empty folder, an empty class and a missing folder', () => {
    const empty = path.join(dir, 'empty');
    fs.mkdirSync(empty);
    writeFile(path.join(empty, 'README.md'), 'no images here');
    throwsImportError(() => loadImageFolder(empty), empty, /folder has no images/);
    const hollow = path.join(dir, 'hollow');
    writeFile(path.join(hollow, 'a', 'x.png'), gray(1));
    fs.mkdirSync(path.join(hollow, 'b'));
    throwsImportError(() => loadImageFolder(hollow), path.join(hollow, 'b'), /class folder has no PNG or JPEG/);
    const missing = path.join(dir, 'nope');
    throwsImportError(() => loadImageFolder(missing), missing, /folder not found/);
  });
});
