import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { DEBIAN_FASHION_MNIST_DIR } from '../../src-main/data/fashion-mnist.ts';
import { FASHION_MNIST_CLASSES, loadDataset, resolveFashionMnistDir } from '../../src-main/data/load-dataset.ts';
import { requireSystemDep } from '../../scripts/system-deps.mjs';
import { makeTempDir, pngBytes, removeDir, throwsImportError, writeFile, writeIdx } from './fixtures.ts';

const dir = makeTempDir('load');
after(() => removeDir(dir));

function writeSplit(folder: string, split: 'train' | 'test', count: number): void {
  const prefix = split === 'train' ? 'train' : 't10k';
  writeIdx(
    path.join(folder, `${prefix}-images-idx3-ubyte.gz`),
    [count, 2, 2],
    new Uint8Array(count * 4).fill(255),
    true,
  );
  writeIdx(
    path.join(folder, `${prefix}-labels-idx1-ubyte.gz`),
    [count],
    Array.from({ length: count }, (_, i) => i % 10),
    true,
  );
}

describe('loadDataset', () => {
  const idxDir = path.join(dir, 'idx');
  writeSplit(idxDir, 'train', 12);
  writeSplit(idxDir, 'test', 5);

  it('loads an IDX split from a folder', () => {
    const train = loadDataset({ kind: 'idx', dir: idxDir });
    const test = loadDataset({ kind: 'idx', dir: idxDir, split: 'test' });
    assert.equal(train.count, 12);
    assert.equal(test.count, 5);
    assert.equal(train.images[0], 1);
    assert.equal(train.classNames, undefined);
  });

  it('loads explicit IDX files relative to the folder', () => {
    const set = loadDataset({
      kind: 'idx',
      dir: idxDir,
      images: 't10k-images-idx3-ubyte.gz',
      labels: 't10k-labels-idx1-ubyte.gz',
      classNames: [...FASHION_MNIST_CLASSES],
    });
    assert.equal(set.count, 5);
    assert.equal(set.classNames![9], 'Ankle boot');
  });

  it('loads an image folder', () => {
    const folder = path.join(dir, 'pngs');
    writeFile(
      path.join(folder, 'a', '1.png'),
      pngBytes(3, 3, () => [10, 20, 30]),
    );
    const set = loadDataset({ kind: 'folder', dir: folder, grayscale: true, size: [2, 2] });
    assert.deepEqual([set.count, set.height, set.width, set.channels], [1, 2, 2, 1]);
    assert.deepEqual(set.classNames, ['a']);
  });
});

describe('resolveFashionMnistDir', () => {
  it('falls back to the demo folder when the Debian one lacks the files', () => {
    const demo = path.join(dir, 'demo');
    writeSplit(demo, 'train', 3);
    writeSplit(demo, 'test', 3);
    const absent = path.join(dir, 'no-debian');
    assert.deepEqual(resolveFashionMnistDir({ debianDir: absent, demoDir: demo }), { dir: demo, origin: 'demo' });
    const partial = path.join(dir, 'partial');
    writeSplit(partial, 'train', 3);
    assert.equal(resolveFashionMnistDir({ debianDir: partial, demoDir: demo }).origin, 'demo');
  });

  it('errors clearly when neither folder holds Fashion-MNIST', () => {
    const none = path.join(dir, 'none');
    fs.mkdirSync(none);
    throwsImportError(
      () => resolveFashionMnistDir({ debianDir: path.join(dir, 'x'), demoDir: none }),
      none,
      /no Fashion-MNIST found/,
    );
  });

  it('loads the real Fashion-MNIST train set from the Debian package', () => {
    requireSystemDep('dataset-fashion-mnist');
    assert.deepEqual(resolveFashionMnistDir(), { dir: DEBIAN_FASHION_MNIST_DIR, origin: 'debian' });
    const set = loadDataset({ kind: 'idx' });
    assert.deepEqual([set.count, set.height, set.width, set.channels], [60000, 28, 28, 1]);
    assert.deepEqual(set.classNames, [...FASHION_MNIST_CLASSES]);
    const counts = new Array(10).fill(0);
    for (const l of set.labels!) counts[l]++;
    assert.deepEqual(counts, new Array(10).fill(6000));
    let max = 0;
    for (const v of set.images) if (v > max) max = v;
    assert.equal(max, 1);
  });
});
