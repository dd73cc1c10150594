import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fingerprintImageSet } from '../../src-main/data/fingerprint.ts';
import type { ImageSet } from '../../src-main/data/image-set.ts';

// Pinned so an accidental change to the hashed layout (which would invalidate caches) is noticed.
const PINNED = 'a678a21ee10a61d7';

function makeSet(): ImageSet {
  const images = Float32Array.from({ length: 2 * 3 * 3 }, (_, i) => i / 18);
  return { images, labels: Int32Array.from([1, 0]), count: 2, height: 3, width: 3, channels: 1, source: 'a' };
}

describe('fingerprintImageSet', () => {
  it('is stable and ignores the source path', () => {
    const fp = fingerprintImageSet(makeSet());
    assert.match(fp, /^[0-9a-f]{64}$/);
    assert.equal(fingerprintImageSet({ ...makeSet(), source: 'elsewhere' }), fp);
    assert.equal(fp.slice(0, 16), PINNED);
  });

  it('changes when one pixel, a label, the shape or label presence changes', () => {
    const fp = fingerprintImageSet(makeSet());
    const pixel = makeSet();
    pixel.images[7] += 1 / 255;
    const label = makeSet();
    label.labels![0] = 2;
    const shape: ImageSet = { ...makeSet(), height: 9, width: 1 };
    const unlabelled: ImageSet = { ...makeSet(), labels: undefined };
    const all = [pixel, label, shape, unlabelled].map(fingerprintImageSet);
    assert.equal(new Set([fp, ...all]).size, 5);
  });
});
