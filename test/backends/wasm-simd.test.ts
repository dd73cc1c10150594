/**
 * The hand-written WebAssembly SIMD kernel for the depthwise filter gradient: its embedded binary is
 * its source compiled, and it computes the textbook sum (checked against a plain JS loop) on
 * strided, padded and non-square cases. The wasm backend's kernel built on it is compared with the
 * cpu backend in wasm-gradient-kernels.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileWat } from '../../scripts/compile-wat.ts';
import { WASM_BASE64 } from '../../src-main/backends/wasm-simd/depthwise-filter-grad.bytes.ts';
import { depthwiseFilterGradSimd, simdDepthwiseFilterGradFits, type DepthwiseFilterGradShape } from '../../src-main/backends/wasm-simd/depthwise-filter-grad.ts';
import { Rng } from '../../src-main/util/rng.ts';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'src-main', 'backends', 'wasm-simd');

test('the embedded binary is depthwise-filter-grad.wat compiled (npm run build:wasm-kernels after editing it)', async () => {
  const source = readFileSync(path.join(dir, 'depthwise-filter-grad.wat'), 'utf8');
  const compiled = Buffer.from(await compileWat('depthwise-filter-grad.wat', source));
  assert.ok(compiled.equals(Buffer.from(WASM_BASE64, 'base64')), 'embedded bytes differ from the compiled source');
});

function reference(x: Float32Array, dy: Float32Array, s: DepthwiseFilterGradShape): Float64Array {
  const out = new Float64Array(s.KH * s.KW * s.C);
  for (let n = 0; n < s.N; n++) for (let oy = 0; oy < s.Ho; oy++) for (let ox = 0; ox < s.Wo; ox++) {
    for (let ky = 0; ky < s.KH; ky++) for (let kx = 0; kx < s.KW; kx++) {
      const iy = oy * s.strideH - s.padTop + ky;
      const ix = ox * s.strideW - s.padLeft + kx;
      if (iy < 0 || iy >= s.H || ix < 0 || ix >= s.W) continue;
      for (let c = 0; c < s.C; c++) {
        out[(ky * s.KW + kx) * s.C + c] += x[((n * s.H + iy) * s.W + ix) * s.C + c] * dy[((n * s.Ho + oy) * s.Wo + ox) * s.C + c];
      }
    }
  }
  return out;
}

const cases: DepthwiseFilterGradShape[] = [
  // MobileNet-tiny's blocks at batch 2: 'same' 3x3, stride 1 and 2.
  { N: 2, H: 14, W: 14, C: 8, Ho: 14, Wo: 14, strideH: 1, strideW: 1, padTop: 1, padLeft: 1, KH: 3, KW: 3 },
  { N: 2, H: 14, W: 14, C: 16, Ho: 7, Wo: 7, strideH: 2, strideW: 2, padTop: 0, padLeft: 0, KH: 3, KW: 3 },
  { N: 2, H: 7, W: 7, C: 32, Ho: 4, Wo: 4, strideH: 2, strideW: 2, padTop: 1, padLeft: 1, KH: 3, KW: 3 },
  // Non-square input and kernel, different strides, padding on one side only, 4 channels.
  { N: 3, H: 9, W: 6, C: 4, Ho: 5, Wo: 6, strideH: 2, strideW: 1, padTop: 2, padLeft: 0, KH: 5, KW: 3 },
  // 'valid': no padding, taps never leave the input.
  { N: 1, H: 8, W: 8, C: 12, Ho: 4, Wo: 4, strideH: 1, strideW: 1, padTop: 0, padLeft: 0, KH: 5, KW: 5 },
];

for (const s of cases) {
  test(`matches the plain sum: x ${s.N}x${s.H}x${s.W}x${s.C}, kernel ${s.KH}x${s.KW}, stride ${s.strideH}x${s.strideW}, pad top ${s.padTop} left ${s.padLeft}`, () => {
    const rng = new Rng(s.C * 100 + s.KH);
    const x = Float32Array.from({ length: s.N * s.H * s.W * s.C }, () => rng.normal());
    const dy = Float32Array.from({ length: s.N * s.Ho * s.Wo * s.C }, () => rng.normal());
    const out = new Float32Array(s.KH * s.KW * s.C).fill(Number.NaN);
    depthwiseFilterGradSimd(x, dy, s, out);
    const ref = reference(x, dy, s);
    let scale = 0;
    for (const v of ref) scale = Math.max(scale, Math.abs(v));
    for (let i = 0; i < out.length; i++) assert.ok(Math.abs(out[i] - ref[i]) <= 1e-5 * scale, `tap ${i}: ${out[i]} vs ${ref[i]}`);
    // A second call on the same module (its memory already grown) gives the same bits.
    const again = new Float32Array(out.length);
    depthwiseFilterGradSimd(x, dy, s, again);
    assert.deepEqual(again, out);
  });
}

test('it declines what it cannot compute, and says why when called anyway', () => {
  assert.equal(simdDepthwiseFilterGradFits(16, 1), true, 'Node 20 has WebAssembly SIMD');
  assert.equal(simdDepthwiseFilterGradFits(3, 1), false, 'channels not a multiple of 4');
  assert.equal(simdDepthwiseFilterGradFits(16, 2), false, 'channel multiplier 2');
  const s = { N: 1, H: 4, W: 4, C: 3, Ho: 4, Wo: 4, strideH: 1, strideW: 1, padTop: 1, padLeft: 1, KH: 3, KW: 3 };
  assert.throws(() => depthwiseFilterGradSimd(new Float32Array(48), new Float32Array(48), s, new Float32Array(27)), /multiple of 4/);
  assert.throws(() => depthwiseFilterGradSimd(new Float32Array(10), new Float32Array(64), { ...s, C: 4 }, new Float32Array(36)), /sizes do not match/);
});
