import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DataImportError } from '../../src-main/data/errors.ts';
import type { ImageSet } from '../../src-main/data/image-set.ts';
import { sampleFewShot } from '../../src-main/data/sampling.ts';

/** 2×2 grey images whose first pixel encodes the index, with labels cycling over `classes`. */
function makeSet(count: number, classes: number, labelled = true): ImageSet {
  const images = new Float32Array(count * 4);
  for (let i = 0; i < count; i++) images[i * 4] = i / count;
  const labels = labelled ? Int32Array.from({ length: count }, (_, i) => i % classes) : undefined;
  return { images, labels, count, height: 2, width: 2, channels: 1, source: 'synthetic' };
}

function classCounts(labels: Int32Array): number[] {
  const counts: number[] = [];
  for (const l of labels) counts[l] = (counts[l] ?? 0) + 1;
  return counts;
}

describe('sampleFewShot', () => {
  const set = makeSet(103, 7);

  it('is deterministic for a seed and differs across seeds', () => {
    const a = sampleFewShot(set, { n: 20, seed: 1 });
    const b = sampleFewShot(set, { n: 20, seed: 1 });
    const c = sampleFewShot(set, { n: 20, seed: 2 });
    assert.deepEqual(a.indices, b.indices);
    assert.notDeepEqual(a.indices, c.indices);
    assert.equal(new Set(a.indices).size, 20);
  });

  it('returns the images and labels at the chosen indices', () => {
    const { set: sample, indices } = sampleFewShot(set, { n: 5, seed: 3 });
    assert.equal(sample.count, 5);
    indices.forEach((src, i) => {
      assert.equal(sample.images[i * 4], set.images[src * 4]);
      assert.equal(sample.labels![i], set.labels![src]);
    });
  });

  it('balances classes to within one, deterministically', () => {
    for (const n of [7, 20, 36, 50]) {
      const a = sampleFewShot(set, { n, seed: 11, balanced: true });
      assert.equal(a.indices.length, n);
      assert.equal(new Set(a.indices).size, n);
      const counts = classCounts(a.set.labels!);
      assert.equal(counts.length, 7);
      assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `n=${n}: ${counts}`);
      assert.deepEqual(sampleFewShot(set, { n, seed: 11, balanced: true }).indices, a.indices);
    }
  });

  it('spreads the remainder over classes in a seeded order', () => {
    const favoured = (seed: number) =>
      classCounts(sampleFewShot(set, { n: 10, seed, balanced: true }).set.labels!)
        .map((c, k) => (c === 2 ? k : -1))
        .filter((k) => k >= 0)
        .join(',');
    const seen = new Set([1, 2, 3, 4, 5, 6].map(favoured));
    assert.ok(seen.size > 1, 'the extra images should not always go to the same classes');
  });

  it('skips unknown labels when balancing', () => {
    const partly = makeSet(30, 3);
    partly.labels![0] = -1;
    partly.labels![1] = -1;
    const { indices } = sampleFewShot(partly, { n: 28, seed: 5, balanced: true });
    assert.ok(!indices.includes(0) && !indices.includes(1));
  });

  it('returns everything, shuffled, when n equals the count', () => {
    const { indices } = sampleFewShot(set, { n: 103, seed: 9 });
    assert.deepEqual(
      [...indices].sort((x, y) => x - y),
      Array.from({ length: 103 }, (_, i) => i),
    );
    assert.notDeepEqual(
      Array.from(indices),
      Array.from({ length: 103 }, (_, i) => i),
    );
  });

  it('rejects n larger than the set, bad n, and balancing without labels', () => {
    const isErr = (re: RegExp) => (err: unknown) => err instanceof DataImportError && re.test(err.message);
    assert.throws(
      () => sampleFewShot(set, { n: 104, seed: 1 }),
      isErr(/asked for 104 images but the set has only 103/),
    );
    assert.throws(() => sampleFewShot(set, { n: 0, seed: 1 }), isErr(/positive whole number/));
    assert.throws(() => sampleFewShot(set, { n: 2.5, seed: 1 }), isErr(/positive whole number/));
    assert.throws(() => sampleFewShot(makeSet(10, 2, false), { n: 2, seed: 1, balanced: true }), isErr(/needs labels/));
  });

  it('explains when a class is too small to balance', () => {
    const skewed = makeSet(20, 2);
    skewed.labels!.fill(0, 0, 17); // class 1 keeps only two images
    skewed.classNames = ['common', 'rare'];
    assert.throws(
      () => sampleFewShot(skewed, { n: 10, seed: 1, balanced: true }),
      (err: unknown) =>
        err instanceof DataImportError && /class 1 \(rare\) has only 2 images.*needs 5/.test(err.message),
    );
  });
});
