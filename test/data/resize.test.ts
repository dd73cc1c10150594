import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resizeBilinear } from '../../src-main/data/resize.ts';

describe('resizeBilinear', () => {
  it('copies exactly at the same size', () => {
    const src = Float32Array.from({ length: 3 * 4 * 2 }, (_, i) => i / 24);
    assert.deepEqual(resizeBilinear(src, 3, 4, 2, 3, 4), src);
  });

  it('averages 2×2 blocks when halving', () => {
    const src = Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    const out = resizeBilinear(src, 4, 4, 1, 2, 2);
    assert.deepEqual(Array.from(out), [2.5, 4.5, 10.5, 12.5]);
  });

  it('keeps a ramp monotonic when enlarging', () => {
    const out = resizeBilinear(Float32Array.from([0, 1]), 1, 2, 1, 1, 5);
    for (let i = 1; i < out.length; i++) assert.ok(out[i] >= out[i - 1]);
    assert.equal(out[0], 0);
    assert.equal(out[4], 1);
  });
});
